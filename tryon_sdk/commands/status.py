"""Exit status of ``tryon-sdk`` commands (the CLI's epilog lists them)."""

from __future__ import annotations

__all__ = ["EXIT_OK", "EXIT_ERROR", "EXIT_INCOMPLETE", "EXIT_INTERRUPTED", "EXIT_STATUS_HELP"]

EXIT_OK = 0
EXIT_ERROR = 1
#: done, but the input video ended before what its container promised (see ``summary.json``)
EXIT_INCOMPLETE = 3
EXIT_INTERRUPTED = 130
EXIT_STATUS_HELP = (
    "exit status: 0 done; 1 error; 3 done, but the input video was incomplete (cut off or damaged; "
    "summary.json says truncated); 130 interrupted"
)
