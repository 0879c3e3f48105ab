//! Trino's query event log: read the MySQL event listener's `trino_queries` table and turn it into usage
//! reports and table-level access evidence for the lifecycle classifier.
//!
//! Trino's MySQL event listener (plugin `trino-mysql-event-listener`) writes one row per completed query into
//! `trino_queries`. That table has no timestamp column: a query's creation time is encoded in its id
//! (`YYYYMMDD_HHMMSS_<seq>_<coordinator>`, UTC), which is also the table's primary key. Time windows are
//! therefore pushed into SQL as a range on `query_id`, which the primary-key index serves directly.
//!
//! [`model`] and [`report`] are pure; [`reader`] is the only part that talks to the database.

pub mod model;
pub mod reader;
pub mod report;

pub use model::{InputTable, QueryEvent, TimeWindow};
pub use reader::{EventLogError, EventLogReader};
pub use report::{ReportBuilder, SkippedRow, TableAccess, UsageReport};
