//! `cargo bench -p lake-lifecycle --bench classify`: classify 1M inventory rows + 1M access log lines, print rows/s.
//! Pass sizes as arguments to change them: `cargo bench -p lake-lifecycle --bench classify -- 200000 200000`.

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let rows = args.first().copied().unwrap_or(1_000_000);
    let lines = args.get(1).copied().unwrap_or(1_000_000);
    let f = lake_lifecycle::bench::run(rows, lines).expect("synthetic input parses");
    println!(
        "inventory: {} rows ({:.1} MB CSV) in {:.3} s = {:.0} rows/s",
        f.inventory_rows,
        f.input_bytes.0 as f64 / 1e6,
        f.inventory_time.as_secs_f64(),
        f.inventory_rows_per_sec()
    );
    println!(
        "access log: {} lines ({:.1} MB) in {:.3} s = {:.0} lines/s",
        f.log_lines,
        f.input_bytes.1 as f64 / 1e6,
        f.log_time.as_secs_f64(),
        f.log_lines_per_sec()
    );
    println!("prefixes classified: {}", f.prefixes);
}
