"""One TFTP transfer: tftpy's server context, with the gaps that matter on a LAN appliance mended.

Contract: Session takes the constructor arguments tftpy's TftpServer.listen passes its context class. A
transfer it cannot carry on ends with an error packet to the client and a TftpException, which makes listen
drop the session and close its file (an unfinished Upload is then discarded); no other exception leaves it,
so one bad packet never stops the daemon. What it mends in tftpy 0.8.7:
- a malformed packet (a short ACK, a non-ASCII name or option) ends its own transfer as an illegal
  operation instead of raising out of listen; a blksize that is no number is ignored (RFC 2347) and one
  above RFC 2348's 65464 is lowered to it (tftpy accepts 65536, whose datagrams cannot be sent);
- a Refused or an I/O error is answered by codes.answer, with the reason in the message;
- a packet from another address or port gets "unknown transfer ID" and is ignored (RFC 1350; tftpy logs
  "discarding" and then processes it as the client's);
- a retransmission restarts the timeout, so `retries` counts retries a timeout apart, not a burst of resends
  as soon as other transfers keep listen's loop busy;
- uploads continue in ReceiveData once tftpy has answered the WRQ.
"""
import logging
import time

from tftpy.TftpContexts import TftpContextServer
from tftpy.TftpPacketTypes import TftpPacketDAT, TftpPacketERR, TftpPacketInitial
from tftpy.TftpShared import MAX_BLKSIZE as MAX_DATAGRAM, TftpException, TftpTimeout
from tftpy.TftpStates import TftpState, TftpStateExpectDAT

from . import codes

log = logging.getLogger("filedock.tftp")

TIMEOUT = 2          # seconds of silence before the last packet is sent again
RETRIES = 5          # times it is sent again before the transfer is given up
MAX_BLKSIZE = 65464  # RFC 2348: the largest block a UDP datagram over IPv4 carries
BLOCK_NUMBERS = 1 << 16


class Illegal(TftpException):
    """The client broke the protocol: answered with code 4."""


class ReceiveData(TftpState):
    """An upload after its WRQ was answered. Each block is written before it is acknowledged, and the last one
    is published before its ACK, so a client told "done" has its file stored and one told of a full disk has
    not been told otherwise before. A repeat of the block acknowledged last (the client missed our ACK) is
    acknowledged again, across the rollover of block numbers past 65535 as well (tftpy's `<` comparison takes
    a repeated 65535 for a future block and a repeated 0 for an illegal one, failing the transfer)."""

    def handle(self, pkt, raddress, rport):
        context = self.context
        if isinstance(pkt, TftpPacketERR):
            raise TftpException(f"the client gave up: {pkt.errmsg!r}")
        if not isinstance(pkt, TftpPacketDAT):
            raise Illegal("expected DATA")
        if pkt.blocknumber == (context.next_block - 1) % BLOCK_NUMBERS:
            self.sendACK(pkt.blocknumber)
            return self
        if pkt.blocknumber != context.next_block:
            raise Illegal(f"expected block {context.next_block}, got {pkt.blocknumber}")
        context.fileobj.write(pkt.data)
        context.metrics.bytes += len(pkt.data)
        last = len(pkt.data) < context.getBlocksize()
        if last:
            context.fileobj.finish()
        self.sendACK()
        context.next_block += 1   # tftpy's property rolls 65536 over to 0
        return None if last else self


def held_options(options):
    """Request options tftpy can negotiate safely: lower-case names, blksize a number at most MAX_BLKSIZE."""
    held = {name.lower(): value for name, value in options.items()}
    if "blksize" in held:
        try:
            held["blksize"] = str(min(int(held["blksize"]), MAX_BLKSIZE))
        except ValueError:
            del held["blksize"]
    return held


class Session(TftpContextServer):
    """One client's transfer, created by tftpy's listen loop for each new request."""

    def __init__(self, host, port, timeout, root, dyn_file_func, upload_open, retries):
        # flock=False: the files are FileOps's, and an Upload has no descriptor for tftpy to lock
        super().__init__(host, port, timeout, root, dyn_file_func, upload_open, retries=retries, flock=False)

    def start(self, buffer):
        """Answer the request packet that opened this session."""
        self.metrics.start_time = self.last_update = time.time()
        self._run(self._handle, buffer, (self.host, self.port))

    def cycle(self):
        """Handle the next packet on this transfer's socket (listen calls it when one is waiting)."""
        buffer, peer = self.sock.recvfrom(MAX_DATAGRAM)
        if peer != (self.address, self.tidport):
            self._send(codes.packet(codes.UNKNOWN_TID, "unknown transfer ID"), peer)
            return
        self.last_update = time.time()
        self._run(self._handle, buffer, peer)
        self.retry_count = 0

    def checkTimeout(self, now):
        """Raise TftpTimeout (listen then resends the last packet) once per TIMEOUT of silence."""
        expect_ack, self.timeout_expectACK = self.timeout_expectACK, False
        if expect_ack or now - self.last_update > self.timeout:
            self.last_update = now
            raise TftpTimeout("timeout waiting for traffic")

    def _handle(self, buffer, peer):
        try:
            pkt = self.factory.parse(buffer)
        except Exception as exc:   # tftpy raises what struct, bytes.decode and int raise on bad input
            raise Illegal(f"malformed packet: {exc}") from None
        if isinstance(pkt, TftpPacketInitial):
            pkt.options = held_options(pkt.options)
        self.state = self.state.handle(pkt, *peer)
        if type(self.state) is TftpStateExpectDAT:   # tftpy's WRQ state names its successor
            self.state = ReceiveData(self)

    def _run(self, step, *args):
        """Run one step; end the transfer with an error packet on anything but tftpy's own exceptions."""
        try:
            step(*args)
        except Illegal as exc:
            self._fail(codes.ILLEGAL_OPERATION, str(exc))
        except TftpException:   # tftpy has answered the client itself, or the client gave up
            raise
        except Exception as exc:
            code, message = codes.answer(exc)
            if code == codes.NOT_DEFINED:
                log.exception("transfer with %s:%s failed", self.host, self.port)
            self._fail(code, message)

    def _fail(self, code, message):
        name = self.file_to_transfer or "?"
        log.info("ended the transfer of %s with %s:%s: code %d, %s", name, self.host, self.port, code, message)
        self._send(codes.packet(code, message), (self.address, self.tidport or self.port))
        raise TftpException(message)

    def _send(self, datagram, peer):
        try:
            self.sock.sendto(datagram, peer)
        except OSError as exc:   # the client is gone or unreachable: nothing more to tell it
            log.info("could not send to %s:%s: %s", *peer, exc)
