"""How one hook is called: a command run with the event JSON on stdin, or a webhook POSTed the event JSON.

Contract: `run_command(argv, body, timeout, env)` runs argv (a list, never through a shell) in its own process
group with `body` on stdin and returns (exit status, stdout, stderr); when it is still running after
`timeout` seconds the whole group is killed and HookTimedOut raised (a HookFailed, as when the program
cannot be started). `post_webhook(url, body, secret, timeout, event_id)` POSTs `body` as application/json with
X-Filedock-Event (the event id, for receivers to drop repeats) and, with a secret, X-Filedock-Signature
"sha256=<hex HMAC-SHA256 of the body>" (`signature`); anything but a 2xx answer (redirects are not followed)
raises HookFailed. `call(hook, body, event_id)` is either, for an event hook, with HookFailed also for a
command that exits non-zero. `first_line` is the trimmed, length-limited line of output a person is shown.
"""
import hashlib
import hmac
import os
import signal
import subprocess

MAX_LINE = 200
USER_AGENT = "filedock-hooks"


class HookFailed(Exception):
    """A hook did not run to success; the message says why, for the log and the delivery record."""


class HookTimedOut(HookFailed):
    """A hook was still running (or a webhook unanswered) when its timeout ran out."""


def signature(secret, body):
    """The X-Filedock-Signature value of a body: "sha256=" and the hex HMAC-SHA256 under secret."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def first_line(*outputs):
    """The first non-empty line of the outputs (bytes), printable and at most MAX_LINE characters; "" if none."""
    for output in outputs:
        for line in output.decode("utf-8", "replace").splitlines():
            line = "".join(c for c in line if c.isprintable()).strip()
            if line:
                return line[:MAX_LINE]
    return ""


def _kill_group(process):
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_command(argv, body, timeout, env=None):
    """Run argv with body on stdin; return (status, stdout, stderr) or raise HookFailed (see the contract)."""
    try:
        process = subprocess.Popen(list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, start_new_session=True,
                                   env=dict(os.environ, **(env or {})))
    except OSError as exc:
        raise HookFailed(f"cannot run {argv[0]}: {exc.strerror or exc}") from None
    try:
        out, err = process.communicate(body, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        try:
            process.communicate(timeout=5)   # reap it; a child that left the group may hold the pipes open
        except subprocess.TimeoutExpired:
            pass
        raise HookTimedOut(f"{argv[0]} was still running after {timeout} s and was killed") from None
    except BaseException:
        _kill_group(process)
        process.wait()
        raise
    return process.returncode, out, err


def post_webhook(url, body, secret, timeout, event_id):
    """POST body to url (see the contract); raise HookFailed unless it is answered 2xx."""
    # here, not at the top: urllib.request brings http.client, email and ssl (~3 MiB), and of the processes
    # that import this module (for before-upload hooks) only the worker's deliveries post anything
    import urllib.error
    import urllib.request

    class NoRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args):
            return None   # a 3xx is then an HTTPError: a webhook is answered where it is posted

    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, "X-Filedock-Event": str(event_id)}
    if secret:
        headers["X-Filedock-Signature"] = signature(secret, body)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.build_opener(NoRedirects).open(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        raise HookFailed(f"{url} answered {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise HookFailed(f"{url} could not be reached: {getattr(exc, 'reason', exc)}") from None


def call(hook, body, event_id):
    """Run or POST one event hook once; raise HookFailed unless it succeeded."""
    if hook.url:
        return post_webhook(hook.url, body, hook.secret, hook.timeout, event_id)
    status, out, err = run_command(hook.command, body, hook.timeout, {"FILEDOCK_EVENT_ID": str(event_id)})
    if status != 0:
        detail = first_line(err, out)
        raise HookFailed(f"{hook.command[0]} exited with status {status}" + (f": {detail}" if detail else ""))
