"""Run a command and print its peak RSS (MiB) on the last line of stderr.

The parent's RUSAGE_CHILDREN max RSS is the largest of its waited-for children: with one
child, the child's own peak.
"""

import resource
import subprocess
import sys

if __name__ == "__main__":
    code = subprocess.call(sys.argv[1:])
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak_rss_mib={peak:.1f}", file=sys.stderr)
    sys.exit(code)
