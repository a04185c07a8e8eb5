# admin_hash.py: print the scrypt hash for the admin password read from stdin. Run by the role with the
# installed venv's python; argv[1] is the config. The current hash is kept while it still matches the
# password, so a managed config is rewritten only when something really changed.
import sys
import tomllib

from appliance.accounts import hash_password, verify_password

password = sys.stdin.read()
try:
    with open(sys.argv[1], "rb") as current_file:
        current = tomllib.load(current_file)["users"]["admin"]["password_hash"]
except (OSError, KeyError, TypeError, tomllib.TOMLDecodeError):
    current = ""
print(current if current and verify_password(password, current) else hash_password(password))
