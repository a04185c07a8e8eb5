"""up2k's content identifiers: chunk size, chunk hashes and the file id ("wark"), as copyparty computes them.

Contract: `chunk_size(size)` is the chunk size u2c and copyparty pick for a file of that size; a chunk's hash
is the first 33 bytes of its sha512 in URL-safe base64 (44 characters); a file's wark is the same encoding of
sha512 over the UTF-8 text salt, size and chunk hashes joined by newlines. `file_wark(path, salt, size,
known)` computes the wark of a file on disk, for files that arrived by another protocol (`known`: the hashes
of its first chunks, already computed, so only the rest is read), with `chunk_hash_at` reading one chunk of
an open file at a time (EOFError if the file is shorter). A ChunkHasher computes chunk hashes while
a stream passes through it (tus bodies), so a finished upload need not be read again.
"""
import base64
import hashlib
import os

HASH_BYTES = 33
HASH_CHARS = 44
FIRST_CHUNK = 1 << 20
FIRST_STEP = 512 << 10
FEW_CHUNKS = 256
MANY_CHUNKS = 4096
BIG_CHUNK = 32 << 20
READ_BLOCK = 1 << 20


def chunk_size(size):
    """The up2k chunk size for a file of `size` bytes."""
    chunk, step = FIRST_CHUNK, FIRST_STEP
    while True:
        for doubling in (False, True):
            count = -(-size // chunk)
            if count <= FEW_CHUNKS or (chunk >= BIG_CHUNK and count <= MANY_CHUNKS):
                return chunk
            chunk += step
            if doubling:
                step *= 2


def chunk_count(size):
    return -(-size // chunk_size(size))


def encode(digest):
    """The 44-character URL-safe base64 of a sha512 digest's first 33 bytes."""
    return base64.urlsafe_b64encode(digest[:HASH_BYTES]).decode("ascii")


def chunk_hash(data):
    return encode(hashlib.sha512(data).digest())


def wark(salt, size, hashes):
    """The up2k file id of a file with this size and these chunk hashes."""
    text = "\n".join([salt, str(size), *hashes])
    return encode(hashlib.sha512(text.encode("utf-8")).digest())


def looks_like_hash(text):
    """Whether text has the shape of a chunk hash (so it can be trusted as a plain identifier)."""
    if not isinstance(text, str) or len(text) != HASH_CHARS:
        return False
    try:
        return len(base64.urlsafe_b64decode(text)) == HASH_BYTES
    except ValueError:
        return False


class ChunkHasher:
    """Chunk hashes of a file of `size` bytes streamed from byte `start`: update(data) appends to `hashes`
    (which starts as a copy of `known`, the hashes of its first chunks) each chunk it completes; the last,
    shorter chunk completes at `size`. A stream that does not start where the known hashes end (a body
    resumed inside a chunk) adds nothing: those chunks are left to be hashed from disk."""

    def __init__(self, size, known, start):
        self.size, self.chunk = size, chunk_size(size)
        self.hashes = list(known)
        self.offset = len(known) * self.chunk
        self.following = start == self.offset
        self.digest, self.filled = hashlib.sha512(), 0

    def update(self, data):
        data = memoryview(data)
        while self.following and data and self.offset < self.size:
            want = min(self.chunk, self.size - self.offset) - self.filled
            self.digest.update(data[:want])
            self.filled += min(want, len(data))
            data = data[want:]
            if self.filled == min(self.chunk, self.size - self.offset):
                self.hashes.append(encode(self.digest.digest()))
                self.offset += self.filled
                self.digest, self.filled = hashlib.sha512(), 0


def chunk_hash_at(fd, offset, length):
    """The chunk hash of `length` bytes at offset in an open file, read in blocks (chunks can be large)."""
    digest = hashlib.sha512()
    while length:
        block = os.pread(fd, min(length, READ_BLOCK), offset)
        if not block:
            raise EOFError(f"the file ended {length} bytes before the chunk did")
        digest.update(block)
        offset += len(block)
        length -= len(block)
    return encode(digest.digest())


def file_wark(path, salt, size, known=()):
    """The wark of the first `size` bytes of a file on disk (for files that arrived without one); `known`:
    hashes of its first chunks, already computed."""
    chunk = chunk_size(size)
    hashes = list(known)
    fd = os.open(path, os.O_RDONLY)
    try:
        for offset in range(min(len(hashes) * chunk, size), size, chunk):   # every chunk known: none left
            hashes.append(chunk_hash_at(fd, offset, min(chunk, size - offset)))
    finally:
        os.close(fd)
    return wark(salt, size, hashes)
