"""SMB through Samba: filedock renders Samba's config and password database and supervises smbd.

Samba's own smbd serves the files; filedock writes nothing of the protocol. `shares` maps volumes and rights
to shares, `conf` renders smb.conf and the account files smbd sees, `passdb` keeps Samba's password database
in step with filedock's accounts, and `server` is the `filedock smb` daemon.
"""
