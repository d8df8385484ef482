"""edgesplit: energy-aware collaborative DNN inference at the network edge."""

import os

# gRPC's fork handlers restart its poller in a child between fork and exec, where
# subprocess.Popen (preexec_fn, close_fds) has closed its epoll descriptor: the child can die
# before exec with "epoll_wait error: Bad file descriptor" (grpc/grpc#43055, open in the
# grpcio we run). edgesplit starts every child by fork and exec, or by multiprocessing's spawn,
# and never uses gRPC in a forked child, so it needs no fork support. Set before any import of
# grpc; a value the user set is kept.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

__version__ = "0.2.0"
