"""Resumable, hash-verified, deduplicated uploads: the one engine behind every upload protocol.

Contract: the modules here know nothing of HTTP. `up2k` (copyparty's chunked protocol) and `tus` (tus 1.0)
are protocol state machines over the shared parts: `target` decides where an upload may land, `partfile`
writes bytes into the hidden temporary file, `dedup` finds and links identical content, `finish` publishes a
complete file and `expire` drops abandoned ones. Upload state lives in the database (appliance.db), never
only in memory, so any worker process can serve any request and a restarted server resumes where it
stopped. Every refusal is an UploadError carrying the HTTP status a web layer should answer with. Uploads
arrive over the web app (up2k, tus, forms), so the changes they make are recorded with PROTOCOL; a new upload
is admitted by the volume's before-upload hooks (`target.admit`) before anything is created for it.
"""

PROTOCOL = "web"


class UploadError(Exception):
    """An upload request that cannot be served, with the HTTP status and a message for the client."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message
