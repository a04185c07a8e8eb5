"""How a volume file is served over HTTP (the web app and WebDAV alike): shown, never run in our origin.

Contract: `headers(mimetype)` lists the response headers every answer carrying a volume file gets (and every
answer about one: 304, 412, 416): a Content-Security-Policy that allows no script at all and
`X-Content-Type-Options: nosniff`. USER_FILE_CSP is a `sandbox` without allow-scripts or allow-same-origin,
so an uploaded HTML or SVG page gets an opaque origin and can neither read the app's pages nor use the
session, cookies or storage; audio/* and video/* get MEDIA_FILE_CSP, the same without `sandbox`, because
Chromium's player page loads the file again as CORS media, which an opaque origin refuses.
"""

# A user file is shown, never run: pictures, media and inline styles for an HTML page viewed as a document.
USER_FILE_CSP = "sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'"
# Audio and video: the browser's own player page, which loads the file again as media; no script either.
MEDIA_FILE_CSP = "default-src 'none'; media-src 'self'"


def user_file_policy(mimetype):
    """The CSP for a volume file of this type (its media type, parameters ignored)."""
    kind = mimetype.split(";", 1)[0].strip().lower()
    return MEDIA_FILE_CSP if kind.startswith(("audio/", "video/")) else USER_FILE_CSP


def headers(mimetype):
    """The security headers of a response carrying (or answering for) a volume file of this type."""
    return [("Content-Security-Policy", user_file_policy(mimetype)), ("X-Content-Type-Options", "nosniff")]
