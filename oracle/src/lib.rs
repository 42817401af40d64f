//! The fast indexed engine (issue: oracle).
