"""The metrics scrape: every counter and gauge in Prometheus' text exposition format 0.0.4 (docs/metrics.md).

Contract: `render(config, db)` returns the exposition text. Counters are read from the database, where every
process adds its counts (appliance.counters), so any worker of any node answers the same, a few seconds late
at most. Gauges are computed now: from the database (unfinished uploads, dedup savings, outbox and hook
queues) and the filesystem (free and total bytes of every volume's filesystem, statvfs). Label values are
escaped as the format says (backslash, double quote, newline). Nothing is kept between scrapes.
"""
import os

from . import counters

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# name -> (type, help) of every metric, in the order they are written.
METRICS = {
    counters.REQUESTS: ("counter", "Requests served, per protocol (FTP: commands; TFTP: transfers)."),
    counters.RECEIVED: ("counter", "Bytes received from clients (request and upload bodies), per protocol."),
    counters.SENT: ("counter", "Bytes sent to clients (response and download bodies), per protocol."),
    "filedock_active_uploads": ("gauge", "Unfinished resumable uploads (up2k, tus, FTP partials), per volume."),
    "filedock_dedup_saved_bytes": ("gauge", "Bytes hardlinks save: file names sharing an inode beyond its first."),
    "filedock_duplicate_bytes": ("gauge", "Bytes of content held under more than one name beyond its first copy "
                                          "(what hardlinks and reflinks save, or could)."),
    "filedock_disk_free_bytes": ("gauge", "Bytes free to filedock on the filesystem of each volume."),
    "filedock_disk_total_bytes": ("gauge", "Size in bytes of the filesystem of each volume."),
    "filedock_outbox_events": ("gauge", "Changes in the event outbox the worker has not delivered yet."),
    "filedock_thumbnail_queue": ("gauge", "Files waiting for the worker to make their thumbnail."),
    "filedock_hook_deliveries_pending": ("gauge", "Hook deliveries waiting to be run or retried."),
}


def escape(value):
    """A label value as the exposition format writes it."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def sample(name, labels, value):
    """One sample line: name{label="value",...} value."""
    inner = ",".join(f'{key}="{escape(labels[key])}"' for key in sorted(labels))
    return f"{name}{{{inner}}} {value}" if inner else f"{name} {value}"


def samples(config, db):
    """{metric name: [(labels, value)]} of everything reported now."""
    found = {name: [] for name in METRICS}
    for name, labels, value in db.counters_all():
        if name in found:
            found[name].append((labels, value))
    gauges = db.metrics_gauges()
    for volume in config.volumes:
        url = {"volume": volume.url}
        found["filedock_active_uploads"].append((url, gauges["uploads"].get(volume.url, 0)))
        found["filedock_dedup_saved_bytes"].append((url, gauges["hardlinked"].get(volume.url, 0)))
        found["filedock_duplicate_bytes"].append((url, gauges["duplicates"].get(volume.url, 0)))
        try:
            st = os.statvfs(volume.path)
        except OSError:
            continue     # a volume whose folder is gone reports no disk, rather than a made-up one
        found["filedock_disk_free_bytes"].append((url, st.f_bavail * st.f_frsize))
        found["filedock_disk_total_bytes"].append((url, st.f_blocks * st.f_frsize))
    found["filedock_outbox_events"].append(({}, gauges["outbox"]))
    found["filedock_hook_deliveries_pending"].append(({}, gauges["hook_deliveries"]))
    found["filedock_thumbnail_queue"].append(({}, db.thumb_queue_length()))
    return found


def render(config, db):
    """The exposition text of every metric."""
    lines = []
    for name, values in samples(config, db).items():
        kind, text = METRICS[name]
        lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
        lines += [sample(name, labels, value) for labels, value in values]
    return "\n".join(lines) + "\n"
