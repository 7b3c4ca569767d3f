__version__ = "0.1.0"

# The one hand-kept file of the package (nbdev only rewrites the version line above). PyTorch's CPU allocator
# backs large tensors with transparent huge pages when THP_MEM_ALLOC_ENABLE is set before torch is imported:
# PAT's batch-64 projections otherwise spend much of their time in page faults (bench/pat_inference.py measures
# both). Set THP_MEM_ALLOC_ENABLE=0 to turn it off; it has no effect when torch was imported first.
import os as _os
_os.environ.setdefault('THP_MEM_ALLOC_ENABLE', '1')
