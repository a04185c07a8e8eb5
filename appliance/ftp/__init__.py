"""The FTP/FTPS daemon (`filedock ftp`): pyftpdlib's four-way split over the shared core.

authorizer.py: logins through appliance.logins (throttled with the web's count); filesystem.py: FTP paths are
volume paths, every operation goes through appliance.fileops; uploads.py and partials.py: uploads through
hidden temporary files, interrupted ones kept for resumption; handler.py: the protocol (pyftpdlib's handlers,
refusals answered through replies.py); tls.py: certificates and contexts; server.py: `serve(config)`.
See docs/ftp.md.
"""
