"""filedock's shared core: config, accounts, access, storage, index, events, daemons and the CLI."""
