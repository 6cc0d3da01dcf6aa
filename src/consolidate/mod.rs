//! Stage 5: consolidate (SPEC §8).
