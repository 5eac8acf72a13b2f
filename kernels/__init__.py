"""The pilang Jupyter kernel (imported as `pilang_kernel`, so it never shadows another `kernels`)."""
