"""What every layer stands on and nothing of vaekit's own: files that are always whole, one writer
per run directory, torch.distributed, memory limits, checks of values at the boundary, and glibc's
allocator settings. Modules here import ``vaekit.errors`` and nothing else of ours."""
