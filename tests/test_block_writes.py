"""Block writers (an upload's partial file, and the atomic writer behind PUT): whole page-aligned blocks go
through O_DIRECT where the filesystem allows it, anything else through the page cache, and either way the
bytes (and their hash) come out right."""
import fcntl
import hashlib
import mmap
import os

from appliance import storage
from appliance.uploads import partfile


def reader(data, block):
    """read(n) handing out `data` in page-aligned mmap buffers, as webapp.body does under gunicorn."""
    view, buffers = memoryview(data), [memoryview(mmap.mmap(-1, block)) for _ in range(2)]
    state = {"at": 0}

    def read(n):
        buffers.reverse()
        piece = view[state["at"]:state["at"] + min(n, block)]
        buffers[0][:len(piece)] = piece
        state["at"] += len(piece)
        return buffers[0][:len(piece)]
    return read


def receive(path, data, read, offset):
    digest = hashlib.sha512()
    with partfile.PartFile(path) as part:
        assert part.receive(read, offset, len(data), digest) == len(data)
        direct = part.direct.fd
    return digest.hexdigest(), direct


def test_aligned_blocks_go_direct_and_land_intact(tmp_path):
    data = os.urandom((3 << 20) + 12345)          # whole blocks, then an unaligned tail
    path = partfile.create(tmp_path, (1 << 20) + len(data))
    digest, direct = receive(path, data, reader(data, 1 << 20), 1 << 20)
    assert direct, "ext4 accepts O_DIRECT: the aligned blocks should have used it"
    assert digest == hashlib.sha512(data).hexdigest()
    with open(path, "rb") as f:
        assert f.read() == bytes(1 << 20) + data


def test_unaligned_offsets_and_plain_bytes_use_the_page_cache(tmp_path):
    data = os.urandom(1 << 20)
    path = partfile.create(tmp_path, 4096 + len(data))
    digest, direct = receive(path, data, reader(data, 256 << 10), 100)   # offset 100: never aligned
    assert direct is None and digest == hashlib.sha512(data).hexdigest()
    plain = iter([data[:600000], data[600000:], b""])
    digest, direct = receive(path, data, lambda n: next(plain), 4096)     # bytes: not ours to align
    assert direct is None and digest == hashlib.sha512(data).hexdigest()
    with open(path, "rb") as f:
        assert f.read()[4096:] == data


def test_a_filesystem_refusing_o_direct_falls_back(tmp_path, monkeypatch):
    real_open = os.open

    def no_direct(path, flags, *args):
        if flags & os.O_DIRECT:
            raise OSError(22, "Invalid argument")
        return real_open(path, flags, *args)
    monkeypatch.setattr(os, "open", no_direct)
    data = os.urandom(2 << 20)
    path = partfile.create(tmp_path, len(data))
    digest, direct = receive(path, data, reader(data, 1 << 20), 0)
    assert direct == 0 and digest == hashlib.sha512(data).hexdigest()
    with open(path, "rb") as f:
        assert f.read() == data


def test_a_filesystem_refusing_o_direct_writes_falls_back(tmp_path, monkeypatch):
    real_pwrite, direct = os.pwrite, []

    def pwrite(fd, block, offset):
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT:
            direct.append(fd)
            raise OSError(22, "Invalid argument")
        return real_pwrite(fd, block, offset)
    monkeypatch.setattr(os, "pwrite", pwrite)
    data = os.urandom(2 << 20)
    path = partfile.create(tmp_path, len(data))
    digest, fd = receive(path, data, reader(data, 1 << 20), 0)
    assert direct and fd == 0 and digest == hashlib.sha512(data).hexdigest()   # tried once, then plain
    with open(path, "rb") as f:
        assert f.read() == data


def test_atomic_writer_sends_aligned_blocks_direct_and_publishes_them_intact(tmp_path):
    data = os.urandom((5 << 20) + 777)
    read = reader(data, 1 << 20)
    target = tmp_path / "put.bin"
    with storage.AtomicWriter(target) as out:
        while block := read(1 << 20):
            out.write(block)
        assert out.direct.fd, "ext4 accepts O_DIRECT: the aligned blocks should have used it"
        out.publish(replace=False)
    assert target.read_bytes() == data
    assert [p.name for p in tmp_path.iterdir()] == ["put.bin"]


def test_atomic_writer_stages_bytes_into_direct_blocks(tmp_path):
    """Blocks that arrive as read-only bytes (WsgiDAV, TLS records), of sizes that never line up with a page,
    are gathered into aligned buffers and written through O_DIRECT; the tail and small blocks in between
    land too, and the modification time given to publish survives the last write."""
    data = os.urandom((9 << 20) + 4321)
    sizes = [1 << 20, 70000, 5, (1 << 20) + 3, 200000]
    target, at, n = tmp_path / "dav.bin", 0, 0
    with storage.AtomicWriter(target) as out:
        while at < len(data):
            block = data[at:at + sizes[n % len(sizes)]]
            out.write(block)
            at, n = at + len(block), n + 1
        assert out.size == len(data)
        assert out.direct.fd, "ext4 accepts O_DIRECT: the staged blocks should have used it"
        out.publish(replace=False, mtime=1_000_000_000)
    assert target.read_bytes() == data
    assert target.stat().st_mtime == 1_000_000_000
    assert [p.name for p in tmp_path.iterdir()] == ["dav.bin"]


def test_atomic_writer_keeps_staged_bytes_and_resumes_after_them(tmp_path):
    """keep() writes what the staging buffer holds before it fsyncs, so a resumed upload continues exactly
    where the kept one stopped (FTP REST/APPE)."""
    data = os.urandom((6 << 20) + 8192)
    target = tmp_path / "resumed.bin"
    out = storage.AtomicWriter(target)
    for at in range(0, 5 << 20, 1 << 20):
        out.write(data[at:at + (1 << 20)])
    temp, size = out.keep()
    assert size == 5 << 20 and os.path.getsize(temp) == size
    again = storage.AtomicWriter(target, temp, size)
    again.write(data[size:])
    again.publish(replace=False)
    assert target.read_bytes() == data


def test_small_bytes_blocks_are_not_staged(tmp_path):
    """A small file written in small blocks goes straight through the page cache (no buffers mapped)."""
    target = tmp_path / "small.txt"
    with storage.AtomicWriter(target) as out:
        for _ in range(10):
            out.write(b"x" * 4000)
        assert out.staging is None
        out.publish(replace=False)
    assert target.read_bytes() == b"x" * 40000


def test_a_deferred_small_file_is_created_only_when_published_or_outgrown(tmp_path):
    """With defer_create, a file of at most SMALL_FILE bytes exists nowhere until publish creates, writes,
    fsyncs and renames it at once; one that outgrows it gets its temporary file then, with the bytes held so
    far; keep() and discard() work before creation too."""
    small, big = os.urandom(storage.SMALL_FILE - 10), os.urandom((3 << 20) + 5)
    read = reader(small, 4096)   # blocks in buffers that the next read reuses: the writer must copy them
    with storage.AtomicWriter(tmp_path / "small.bin", defer_create=True) as out:
        while block := read(4096):
            out.write(block)
        assert out.size == len(small) and list(tmp_path.iterdir()) == []
        out.publish(replace=False, mtime=1_000_000_000)
    assert (tmp_path / "small.bin").read_bytes() == small
    assert (tmp_path / "small.bin").stat().st_mtime == 1_000_000_000

    read = reader(big, 1 << 16)
    with storage.AtomicWriter(tmp_path / "big.bin", defer_create=True) as out:
        out.write(read(1000))
        assert list(tmp_path.glob(".filedock-part-*")) == []
        while block := read(1 << 16):
            out.write(block)
        assert [p.name for p in tmp_path.glob(".filedock-part-*")] == [out.temp.name]
        out.publish(replace=False)
    assert (tmp_path / "big.bin").read_bytes() == big

    kept = storage.AtomicWriter(tmp_path / "kept.bin", defer_create=True)
    kept.write(b"partial")
    temp, size = kept.keep()
    assert size == 7 and temp.read_bytes() == b"partial"
    dropped = storage.AtomicWriter(tmp_path / "dropped.bin", defer_create=True)
    dropped.write(b"never")
    dropped.discard()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["small.bin", "big.bin", temp.name])
