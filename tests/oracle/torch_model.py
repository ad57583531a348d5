"""The PyTorch twin of auratag's models for the tests and benchmarks: the one
in scripts/auratag_torch.py (so that there is one twin, not two)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from auratag_torch import AuratagNet as TorchModel, parse_ini  # noqa: E402,F401
