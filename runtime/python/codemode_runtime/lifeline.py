"""The container runtime's first steps, before anything heavy is imported: the channel and its watcher.

The watcher is a process forked from this one, and a forked process keeps the pages its parent
writes to afterwards: forked here, from an interpreter that has imported next to nothing, it holds
~3 MB (forked once the runtime had loaded, ~11 MB). Only `os`, `select`, `signal` and `_socket`
are imported.
"""
import os
import select
import signal


def open_channel(argv):
    """The protocol fds: a Unix socket the host bind-mounted (`--channel PATH`), else stdin/stdout."""
    if "--channel" in argv:
        import _socket

        path = argv[argv.index("--channel") + 1]
        channel = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        channel.connect(path)
        fd = channel.detach()
        return fd, os.dup(fd)
    return os.dup(0), os.dup(1)


def watch_host(fd):
    """Starts a process that ends this one as soon as the host's end of the channel closes.

    A program that never reads the channel (a busy loop, a long sleep, C code holding the GIL)
    would otherwise outlive a bridge killed with SIGKILL until the next bridge reaps it. The watcher
    polls for the hang-up alone (POLLRDHUP on the socket, POLLHUP on a pipe, never POLLIN), so it
    takes no frame, and then kills this process; the container's init ends with it. A process, not
    a thread: a thread needs the GIL to act. Forked twice, so that the init adopts it and the
    program's `os.wait()` never meets it; called before any thread exists.

    A safety net, not a boundary: the program may end the watcher, as it may end itself.

    Returns the pid of the first child, which exits at once: the caller reaps it (`os.waitpid`)
    later, when it certainly has, instead of waiting for a busy machine to schedule it now.
    """
    runtime = os.getpid()
    child = os.fork()
    if child:
        return child
    try:
        if os.fork():
            os._exit(0)
        for name in os.listdir("/proc/self/fd"):
            if int(name) != fd:
                try:
                    os.close(int(name))
                except OSError:
                    pass  # the directory listing's own descriptor
        poller = select.poll()
        poller.register(fd, select.POLLRDHUP)
        while not poller.poll():
            pass
        os.kill(runtime, signal.SIGKILL)
    finally:
        os._exit(0)
