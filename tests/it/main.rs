//! The one integration test binary: each module drives one area end to end.

mod providers;
