"""Config edits (appliance.configfile.edit) one at a time, also between greenlets of one gevent worker."""
import subprocess
import sys
import textwrap

from appliance import configfile

# Two greenlets of one process edit the config at once, the first pausing (as an offloaded fsync does) while it
# holds the edit lock. A blocking flock in the second would stop the loop the first needs to finish.
TWO_GREENLETS = textwrap.dedent("""
    from gevent import monkey; monkey.patch_all()
    import sys, gevent
    from appliance import configfile

    def edit(change, pause):
        def paused(doc):
            gevent.sleep(pause)
            change(doc)
        configfile.edit(sys.argv[1], paused)

    first = gevent.spawn(edit, lambda doc: configfile.set_access(doc, "/", {"*": "rw"}), 0.3)
    gevent.sleep(0.05)   # the first now holds the lock
    second = gevent.spawn(edit, lambda doc: configfile.add_volume(doc, "/b", sys.argv[2], {"*": "r"}), 0)
    gevent.joinall([first, second], timeout=20, raise_error=True)
    print("done" if first.successful() and second.successful() else "hung")
""")


def test_two_greenlets_editing_at_once_both_land(tmp_path):
    path = tmp_path / "filedock.toml"
    path.write_text('[server]\nstate_dir = "state"\n\n[[volumes]]\nurl = "/"\npath = "."\n'
                    'access = { "*" = "r" }\n')
    (tmp_path / "b").mkdir()
    run = subprocess.run([sys.executable, "-c", TWO_GREENLETS, str(path), str(tmp_path / "b")], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path)
    assert run.stdout.strip() == "done", run.stderr
    text = path.read_text()
    assert 'access = {"*" = "rw"}' in text and 'url = "/b"' in text, text


def test_an_edit_keeps_the_comments(tmp_path):
    path = tmp_path / "filedock.toml"
    path.write_text('# mine\n[server]\nstate_dir = "state"\n\n[[volumes]]\nurl = "/"\npath = "."\n'
                    'access = { "*" = "r" }\n')
    configfile.edit(path, lambda doc: configfile.set_access(doc, "/", {"*": "rw"}))
    assert path.read_text().startswith("# mine\n")
