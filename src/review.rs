//! Stage 4: review (SPEC §7).
