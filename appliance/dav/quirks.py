"""Client quirks, each a named switch with the client it is for, read once from the [dav] settings.

Contract: `Quirks.from_config(config)` holds every workaround the daemon applies; the modules that act on a
quirk read it here, never the config, so every client-specific behaviour is listed in this one place.
"""
import fnmatch
from dataclasses import dataclass

# macOS Finder writes AppleDouble "._name" files beside every file it copies, and ".DS_Store" folder state.
MACOS_DOTFILES = ("._*", ".DS_Store")
DOTFILE_POLICIES = ("keep", "hide", "refuse")


@dataclass(frozen=True)
class Quirks:
    # Windows Explorer (Microsoft-WebDAV-MiniRedir) only offers to edit documents in place when OPTIONS
    # answers "MS-Author-Via: DAV".
    ms_author_via: bool = True
    # Windows Explorer creates a file with a 0-byte PUT, then PUTs the content over it: a user who may create
    # files but not overwrite them (w without d, a drop box's u) may replace an empty file, as nothing is lost.
    replace_empty_file: bool = True
    # Windows Explorer sets times with PROPPATCH Win32LastModifiedTime; rclone and Nextcloud clients send
    # X-OC-Mtime with PUT. Both set the file's modification time when [dav] keep_client_mtime is on.
    keep_client_mtime: bool = True
    # macOS Finder's ._* and .DS_Store: keep (store them), hide (store, never list) or refuse ([dav] macos_dotfiles).
    macos_dotfiles: str = "keep"

    @classmethod
    def from_config(cls, config):
        policy = config.get("dav", "macos_dotfiles")
        if policy not in DOTFILE_POLICIES:
            raise ValueError(f"[dav] macos_dotfiles must be one of {', '.join(DOTFILE_POLICIES)}, not {policy!r}")
        return cls(keep_client_mtime=config.get("dav", "keep_client_mtime"), macos_dotfiles=policy)

    def is_macos_dotfile(self, name):
        """Whether a file name is one of Finder's own."""
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in MACOS_DOTFILES)

    def hides(self, name):
        """Whether a listing leaves this name out."""
        return self.macos_dotfiles == "hide" and self.is_macos_dotfile(name)

    def refuses(self, vpath):
        """Whether a request naming this path is refused (macos_dotfiles = refuse)."""
        return self.macos_dotfiles == "refuse" and self.is_macos_dotfile(vpath.rstrip("/").rpartition("/")[2])
