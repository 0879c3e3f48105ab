//! The local lake's demo data and its one federated query: orders in MySQL/MariaDB, customers in
//! PostgreSQL, and a product table in Iceberg written by Trino itself. Pure: statements and data only; the
//! caller runs them through `trino-client`. The data is public so a test can compute the federated join
//! itself and compare it with what Trino returns.

/// Where the demo puts its tables: the catalog names of the lake config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoCatalogs {
    /// The MySQL/MariaDB catalog (orders).
    pub mysql: String,
    /// The PostgreSQL catalog (customers).
    pub postgresql: String,
    /// The Iceberg catalog (products).
    pub iceberg: String,
    /// Where the Iceberg schema's data goes, `s3://bucket/prefix` (no trailing slash).
    pub iceberg_location: String,
    /// The schema of every demo table in all three catalogs (in the Iceberg catalog, a Glue database).
    /// `cargo xtask local` uses [`SCHEMA`]; tests name their own so they never share tables with it.
    pub schema: String,
}

/// `(customer_id, name, country)`, kept in PostgreSQL.
pub const CUSTOMERS: &[(i64, &str, &str)] = &[
    (1, "Ada Lovelace", "UK"),
    (2, "Grace Hopper", "US"),
    (3, "Edsger Dijkstra", "NL"),
    (4, "Barbara Liskov", "US"),
    (5, "Niklaus Wirth", "CH"),
];

/// `(product_id, name, unit price in cents)`, kept in Iceberg (as `decimal(10,2)`).
pub const PRODUCTS: &[(i64, &str, i64)] = &[
    (10, "notebook", 450),
    (11, "fountain pen", 3_900),
    (12, "ink bottle", 1_250),
    (13, "desk lamp", 7_999),
];

/// `(order_id, customer_id, product_id, quantity)`, kept in MySQL/MariaDB. Customer 5 has no orders and
/// order 108 names a product that does not exist: the inner joins drop both.
pub const ORDERS: &[(i64, i64, i64, i64)] = &[
    (100, 1, 10, 3),
    (101, 1, 11, 1),
    (102, 2, 10, 10),
    (103, 2, 13, 1),
    (104, 3, 12, 2),
    (105, 4, 11, 2),
    (106, 4, 10, 5),
    (107, 3, 10, 1),
    (108, 2, 99, 4),
];

/// The schema `cargo xtask local` puts the demo's tables in ([`DemoCatalogs::schema`]).
pub const SCHEMA: &str = "demo";

fn values<T>(rows: &[T], row: impl Fn(&T) -> String) -> String {
    rows.iter().map(row).collect::<Vec<_>>().join(", ")
}

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The statements that (re)create the demo tables, in order. Each table is dropped first, so a rerun
/// against databases kept from an earlier run starts from the same rows.
pub fn seed_statements(c: &DemoCatalogs) -> Vec<String> {
    let customers = values(CUSTOMERS, |(id, name, country)| {
        format!("(BIGINT '{id}', {}, {})", quote(name), quote(country))
    });
    let products = values(PRODUCTS, |(id, name, cents)| {
        format!(
            "(BIGINT '{id}', {}, DECIMAL '{}.{:02}')",
            quote(name),
            cents / 100,
            cents % 100
        )
    });
    let orders = values(ORDERS, |(id, customer, product, quantity)| {
        format!("(BIGINT '{id}', BIGINT '{customer}', BIGINT '{product}', BIGINT '{quantity}')")
    });
    let s = &c.schema;
    vec![
        format!("CREATE SCHEMA IF NOT EXISTS {}.{s}", c.postgresql),
        format!("DROP TABLE IF EXISTS {}.{s}.customers", c.postgresql),
        format!(
            "CREATE TABLE {}.{s}.customers AS SELECT * FROM (VALUES {customers}) AS t(customer_id, name, country)",
            c.postgresql
        ),
        format!("CREATE SCHEMA IF NOT EXISTS {}.{s}", c.mysql),
        format!("DROP TABLE IF EXISTS {}.{s}.orders", c.mysql),
        format!(
            "CREATE TABLE {}.{s}.orders AS SELECT * FROM (VALUES {orders}) AS t(order_id, customer_id, product_id, quantity)",
            c.mysql
        ),
        format!(
            "CREATE SCHEMA IF NOT EXISTS {}.{s} WITH (location = {})",
            c.iceberg,
            quote(&format!("{}/{s}", c.iceberg_location))
        ),
        format!("DROP TABLE IF EXISTS {}.{s}.products", c.iceberg),
        format!(
            "CREATE TABLE {}.{s}.products AS SELECT * FROM (VALUES {products}) AS t(product_id, name, unit_price)",
            c.iceberg
        ),
    ]
}

/// The federated query: units and revenue per country and product, joining all three stores.
pub fn federated_query(c: &DemoCatalogs) -> String {
    format!(
        "SELECT c.country, p.name AS product, sum(o.quantity) AS units, \
         sum(o.quantity * p.unit_price) AS revenue \
         FROM {m}.{s}.orders o \
         JOIN {pg}.{s}.customers c ON o.customer_id = c.customer_id \
         JOIN {ice}.{s}.products p ON o.product_id = p.product_id \
         GROUP BY c.country, p.name \
         ORDER BY revenue DESC, c.country, p.name",
        m = c.mysql,
        pg = c.postgresql,
        ice = c.iceberg,
        s = c.schema
    )
}

/// One row of the federated query's result.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RevenueRow {
    /// The customer's country.
    pub country: String,
    /// The product's name.
    pub product: String,
    /// Units sold.
    pub units: i64,
    /// Revenue in cents.
    pub revenue_cents: i64,
}

impl RevenueRow {
    /// The revenue as Trino prints a `decimal`: `123.45`.
    pub fn revenue(&self) -> String {
        format!(
            "{}.{:02}",
            self.revenue_cents / 100,
            self.revenue_cents % 100
        )
    }
}
