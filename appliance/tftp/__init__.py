"""The TFTP daemon (`filedock tftp`): tftpy's protocol engine over the shared core, anonymous and read-mostly.

    codes.py    the one table from refusal kinds to TFTP error codes, and error packets
    files.py    TFTP names onto FileOps: the only way a request reaches a file (tftpy's hooks)
    session.py  one transfer: tftpy's server context with its protocol gaps mended
    server.py   serve(config): bind, report ready, serve until SIGTERM
"""
