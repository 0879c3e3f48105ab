//! S3 cost control for the lake: lifecycle and Intelligent-Tiering policies chosen from real access.
#![deny(missing_docs)]
