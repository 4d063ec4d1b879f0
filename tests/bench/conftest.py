import pathlib
import sys

# The benchmarks are scripts in bench/, not a package: their modules import each other
# by name (harness, dns_qps), as they do when run.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bench"))
