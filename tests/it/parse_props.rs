//! Property tests of the parser and the checkbox editor (filled in below).
