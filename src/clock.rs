//! Wall-clock time for stamps in plans and drops, in the local time zone.
//!
//! The local offset is read once, before the async runtime starts threads
//! (`time` refuses to read it from a multi-threaded process on Unix).

use std::sync::OnceLock;

use time::{OffsetDateTime, UtcOffset};

static OFFSET: OnceLock<UtcOffset> = OnceLock::new();

/// Call from `main` before starting threads.
pub fn init() {
    let _ = OFFSET.set(UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC));
}

pub fn now() -> OffsetDateTime {
    if let Some(t) = fixed() {
        return t;
    }
    let offset = *OFFSET.get_or_init(|| UtcOffset::UTC);
    OffsetDateTime::now_utc().to_offset(offset)
}

/// The test hook `EXPAND_CLOCK=<RFC 3339>`: every stamp expand writes (ticks,
/// drop names, state) says that time, so tests and snapshots can compare
/// whole outputs. Read once.
fn fixed() -> Option<OffsetDateTime> {
    static FIXED: OnceLock<Option<OffsetDateTime>> = OnceLock::new();
    *FIXED.get_or_init(|| {
        let v = std::env::var("EXPAND_CLOCK").ok()?;
        OffsetDateTime::parse(v.trim(), &time::format_description::well_known::Rfc3339).ok()
    })
}

/// `2025-11-21 14:05`
pub fn stamp(t: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// `2025-11-21`, `1405`
pub fn date_and_hhmm(t: OffsetDateTime) -> (String, String) {
    (
        format!("{:04}-{:02}-{:02}", t.year(), t.month() as u8, t.day()),
        format!("{:02}{:02}", t.hour(), t.minute()),
    )
}

/// RFC 3339 for state files.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// `20251121-140507`, for file names that must not collide within a minute.
pub fn stamp_compact(t: OffsetDateTime) -> String {
    format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}
