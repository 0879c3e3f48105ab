//! Result streaming: a background task follows `nextUri`, decodes pages (or downloads spooled segments
//! concurrently) and hands rows to a bounded channel, so memory stays bounded for any result size and rows
//! arrive in order.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use base64::Engine as _;
use futures::Stream;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::client::{Client, Inner, Kind};
use crate::error::{Error, Result};
use crate::protocol::{QueryData, QueryResults, Segment, SegmentMetadata, StatementStats, Warning};
use crate::value::{Columns, Row, decode_rows};

/// How many times in a row a query may answer with the `nextUri` it was fetched from before the stream
/// gives up (see `Driver::drive`).
const MAX_NEXT_URI_REPEATS: u32 = 10;

/// What is known about a query so far.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct QueryStatus {
    /// The query id.
    pub id: String,
    /// The web UI page of the query.
    pub info_uri: Option<String>,
    /// The columns, once Trino sent them.
    pub columns: Option<Arc<Columns>>,
    /// The latest statistics.
    pub stats: StatementStats,
    /// The update type (`INSERT`, `SET SESSION`...).
    pub update_type: Option<String>,
    /// Rows changed by an update.
    pub update_count: Option<i64>,
    /// Warnings.
    pub warnings: Vec<Warning>,
    /// The spooling encoding the server chose, if it used the spooling protocol.
    pub spooling_encoding: Option<String>,
}

/// A finished query with all its rows.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct QueryResult {
    /// Everything known about the query.
    pub status: QueryStatus,
    /// The rows, in order.
    pub rows: Vec<Row>,
}

impl QueryResult {
    /// The columns (empty for statements without results).
    pub fn columns(&self) -> &[crate::protocol::Column] {
        self.status
            .columns
            .as_deref()
            .map(Columns::columns)
            .unwrap_or(&[])
    }
}

type DecodeHandle = JoinHandle<Result<(Vec<Row>, OwnedSemaphorePermit)>>;

enum Chunk {
    /// Rows ready now.
    Rows(Vec<Row>),
    /// A page being decoded on a blocking thread.
    Decoding(DecodeHandle),
    /// A spooled segment being downloaded and decoded in batches (ends when the channel closes).
    Batches(mpsc::Receiver<Result<Vec<Row>>>),
    /// The query finished and every chunk was sent. A channel that closes without it means the driver task
    /// died (a panic): the result would be silently incomplete, so the stream reports an error instead.
    End,
}

/// The rows of a running query, in order. Dropping it cancels the query if it has not finished.
pub struct QueryStream {
    rx: mpsc::Receiver<Result<Chunk>>,
    pending: Option<DecodeHandle>,
    batches: Option<mpsc::Receiver<Result<Vec<Row>>>>,
    current: std::vec::IntoIter<Row>,
    status: Arc<Mutex<QueryStatus>>,
    cancel: CancellationToken,
    done: bool,
}

impl std::fmt::Debug for QueryStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryStream")
            .field("status", &self.status())
            .field("done", &self.done)
            .finish()
    }
}

fn parse_page(body: &[u8], context: &str) -> Result<QueryResults> {
    serde_json::from_slice(body).map_err(|e| Error::protocol(context, &e))
}

fn update_status(status: &Mutex<QueryStatus>, page: &QueryResults) {
    let mut s = status.lock().expect("status lock");
    s.id.clone_from(&page.id);
    if page.info_uri.is_some() {
        s.info_uri.clone_from(&page.info_uri);
    }
    if let Some(stats) = &page.stats {
        s.stats = stats.clone();
    }
    if s.columns.is_none()
        && let Some(cols) = &page.columns
        && !cols.is_empty()
    {
        s.columns = Some(Arc::new(Columns::new(cols.clone())));
    }
    if page.update_type.is_some() {
        s.update_type.clone_from(&page.update_type);
    }
    if page.update_count.is_some() {
        s.update_count = page.update_count;
    }
    if !page.warnings.is_empty() {
        s.warnings.clone_from(&page.warnings);
    }
}

fn failure(page: &QueryResults) -> Option<Error> {
    page.error.as_ref().map(|e| Error::QueryFailed {
        query_id: page.id.clone(),
        message: e.message.clone(),
        error_name: e.error_name.clone(),
        error_type: e.error_type.clone(),
        error_code: e.error_code,
        location: e.error_location,
    })
}

impl QueryStream {
    pub(crate) async fn start(client: Client, sql: &str) -> Result<QueryStream> {
        let inner = client.inner;
        let url = inner.statement_url();
        let resp = inner
            .send(
                Method::POST,
                url.clone(),
                Some(sql.to_owned()),
                Kind::Statement,
            )
            .await?;
        inner.apply_headers(&resp.headers);
        let page = parse_page(&resp.body, &format!("POST {url}"))?;
        let status = Arc::new(Mutex::new(QueryStatus::default()));
        update_status(&status, &page);
        if let Some(e) = failure(&page) {
            return Err(e);
        }
        let (tx, rx) = mpsc::channel(inner.buffered_chunks);
        let cancel = CancellationToken::new();
        let deadline = inner
            .query_timeout
            .map(|t| (tokio::time::Instant::now() + t, t));
        let driver = Driver {
            semaphore: Arc::new(Semaphore::new(inner.spool_concurrency)),
            last_contact: Mutex::new(tokio::time::Instant::now()),
            inner,
            tx,
            status: status.clone(),
            cancel: cancel.clone(),
            deadline,
        };
        tokio::spawn(driver.run(page));
        Ok(QueryStream {
            rx,
            pending: None,
            batches: None,
            current: Vec::new().into_iter(),
            status,
            cancel,
            done: false,
        })
    }

    /// A snapshot of what is known about the query.
    pub fn status(&self) -> QueryStatus {
        self.status.lock().expect("status lock").clone()
    }

    /// The query id.
    pub fn query_id(&self) -> String {
        self.status.lock().expect("status lock").id.clone()
    }

    /// The columns, once known.
    pub fn columns(&self) -> Option<Arc<Columns>> {
        self.status.lock().expect("status lock").columns.clone()
    }

    /// Cancels the query (`DELETE nextUri`); the stream then ends with [`Error::Cancelled`].
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// The next batch of rows (a page or part of a segment); `None` at the end. Faster than row-by-row
    /// polling.
    pub async fn next_batch(&mut self) -> Option<Result<Vec<Row>>> {
        let rest: Vec<Row> = std::mem::take(&mut self.current).collect();
        if !rest.is_empty() {
            return Some(Ok(rest));
        }
        std::future::poll_fn(|cx| self.poll_batch(cx)).await
    }

    fn poll_batch(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Vec<Row>>>> {
        loop {
            if let Some(h) = self.pending.as_mut() {
                let r = futures::ready!(Pin::new(h).poll(cx));
                self.pending = None;
                return Poll::Ready(Some(join_decoded(r).inspect_err(|_| self.fail())));
            }
            if let Some(batches) = self.batches.as_mut() {
                match futures::ready!(batches.poll_recv(cx)) {
                    Some(Ok(rows)) => return Poll::Ready(Some(Ok(rows))),
                    Some(Err(e)) => {
                        self.batches = None;
                        self.fail();
                        return Poll::Ready(Some(Err(e)));
                    }
                    None => {
                        self.batches = None;
                        continue;
                    }
                }
            }
            if self.done {
                return Poll::Ready(None);
            }
            match futures::ready!(self.rx.poll_recv(cx)) {
                Some(Ok(Chunk::Rows(rows))) => return Poll::Ready(Some(Ok(rows))),
                Some(Ok(Chunk::Decoding(h))) => self.pending = Some(h),
                Some(Ok(Chunk::Batches(rx))) => self.batches = Some(rx),
                Some(Ok(Chunk::End)) => {
                    self.done = true;
                    return Poll::Ready(None);
                }
                Some(Err(e)) => {
                    self.fail();
                    return Poll::Ready(Some(Err(e)));
                }
                None => {
                    self.fail();
                    return Poll::Ready(Some(Err(Error::Protocol {
                        context: "query driver".into(),
                        message: "the task reading the query stopped before the query finished (it panicked); the rows received are incomplete".into(),
                        position: None,
                    })));
                }
            }
        }
    }

    /// Ends the stream after an error and cancels the query: nobody reads the rest of a stream that failed,
    /// so the driver must not keep polling or heartbeating it until the stream is dropped.
    fn fail(&mut self) {
        self.done = true;
        self.cancel.cancel();
    }

    /// Collects every remaining row.
    pub async fn collect_all(mut self) -> Result<QueryResult> {
        let mut rows = Vec::new();
        while let Some(batch) = self.next_batch().await {
            rows.extend(batch?);
        }
        Ok(QueryResult {
            status: self.status(),
            rows,
        })
    }
}

fn join_decoded(
    r: std::result::Result<Result<(Vec<Row>, OwnedSemaphorePermit)>, tokio::task::JoinError>,
) -> Result<Vec<Row>> {
    match r {
        Ok(Ok((rows, _permit))) => Ok(rows),
        Ok(Err(e)) => Err(e),
        Err(e) if e.is_cancelled() => Err(Error::Cancelled),
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

impl Stream for QueryStream {
    type Item = Result<Row>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Row>>> {
        let this = &mut *self;
        loop {
            if let Some(row) = this.current.next() {
                return Poll::Ready(Some(Ok(row)));
            }
            match futures::ready!(this.poll_batch(cx)) {
                Some(Ok(rows)) => this.current = rows.into_iter(),
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => return Poll::Ready(None),
            }
        }
    }
}

use std::future::Future as _;

impl Drop for QueryStream {
    fn drop(&mut self) {
        // The driver sees the token (or the closed channel) and sends DELETE nextUri if the query still runs.
        self.cancel.cancel();
    }
}

struct Driver {
    inner: Arc<Inner>,
    tx: mpsc::Sender<Result<Chunk>>,
    status: Arc<Mutex<QueryStatus>>,
    cancel: CancellationToken,
    deadline: Option<(tokio::time::Instant, std::time::Duration)>,
    semaphore: Arc<Semaphore>,
    /// When the driver last heard from the coordinator (a page or a heartbeat). Heartbeats are due a
    /// heartbeat interval after it, however many separate waits that time spans.
    last_contact: Mutex<tokio::time::Instant>,
}

enum Stop {
    /// The consumer went away or cancelled.
    Cancelled,
    /// The query timeout expired.
    Timeout,
}

impl Driver {
    async fn run(self, first: QueryResults) {
        let mut next: Option<Url> = None;
        let outcome = self.drive(first, &mut next).await;
        let err = match outcome {
            Ok(()) => {
                let _ = self.tx.send(Ok(Chunk::End)).await;
                return;
            }
            Err(Ok(Stop::Cancelled)) => Error::Cancelled,
            Err(Ok(Stop::Timeout)) => {
                Error::Timeout(self.deadline.map(|d| d.1).unwrap_or_default())
            }
            Err(Err(e)) => e,
        };
        if let Some(url) = next {
            // Best effort: the query is abandoned by the coordinator anyway if this fails.
            if let Err(e) = self
                .inner
                .send(Method::DELETE, url, None, Kind::Coordinator)
                .await
            {
                tracing::warn!(error = %e, "cancelling the query failed");
            }
        }
        let _ = self.tx.send(Err(err)).await;
    }

    async fn until_deadline(&self) {
        match self.deadline {
            Some((at, _)) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    }

    async fn drive(
        &self,
        first: QueryResults,
        next: &mut Option<Url>,
    ) -> std::result::Result<(), std::result::Result<Stop, Error>> {
        let mut page = first;
        // Trino's token grows with every response, so a `nextUri` equal to the one just fetched means the
        // server is not advancing the protocol; after a few such answers the query is given up.
        let mut fetched: Option<Url> = None;
        let mut repeats = 0u32;
        loop {
            update_status(&self.status, &page);
            *next = match &page.next_uri {
                Some(u) => Some(self.inner.resolve(u).map_err(Err)?),
                None => None,
            };
            if let Some(e) = failure(&page) {
                *next = None;
                return Err(Err(e));
            }
            let columns = self.status.lock().expect("status lock").columns.clone();
            match page.take_query_data().map_err(Err)? {
                None => {}
                Some(QueryData::Direct(raw)) => {
                    let columns = columns.ok_or_else(|| Err(no_columns(&page.id)))?;
                    // Decode on a blocking thread while this task already fetches the next page.
                    let permit = self.permit(next.as_ref()).await?;
                    let context = format!("data of query {}", page.id);
                    let handle = tokio::task::spawn_blocking(move || {
                        let mut rows = Vec::new();
                        decode_rows(raw.get().as_bytes(), &columns, &mut rows, &context)?;
                        Ok((rows, permit))
                    });
                    self.deliver(Chunk::Decoding(handle), next.as_ref()).await?;
                }
                Some(QueryData::Spooled(data)) => {
                    self.status.lock().expect("status lock").spooling_encoding =
                        Some(data.encoding.clone());
                    let columns = columns.ok_or_else(|| Err(no_columns(&page.id)))?;
                    for segment in data.segments {
                        match segment {
                            Segment::Inline {
                                data: b64,
                                metadata,
                            } => {
                                let bytes = base64::engine::general_purpose::STANDARD
                                    .decode(b64.as_bytes())
                                    .map_err(|e| {
                                        Err(Error::Protocol {
                                            context: format!("inline segment of query {}", page.id),
                                            message: format!("invalid base64: {e}"),
                                            position: None,
                                        })
                                    })?;
                                let rows = decode_segment(
                                    &bytes,
                                    &data.encoding,
                                    &metadata,
                                    &columns,
                                    "inline segment",
                                )
                                .map_err(Err)?;
                                self.deliver(Chunk::Rows(rows), next.as_ref()).await?;
                            }
                            Segment::Spooled {
                                uri,
                                ack_uri,
                                metadata,
                                headers,
                            } => {
                                let permit = self.permit(next.as_ref()).await?;
                                let job = SegmentJob {
                                    inner: self.inner.clone(),
                                    uri: self.inner.resolve_segment(&uri).map_err(Err)?,
                                    ack: self.inner.resolve_segment(&ack_uri).map_err(Err)?,
                                    headers: header_map(&headers).map_err(Err)?,
                                    metadata,
                                    encoding: data.encoding.clone(),
                                    columns: columns.clone(),
                                };
                                let (tx, rx) = mpsc::channel(self.inner.segment_lookahead_batches);
                                tokio::spawn(job.run(tx, permit));
                                self.deliver(Chunk::Batches(rx), next.as_ref()).await?;
                            }
                        }
                    }
                }
            }
            let Some(url) = next.clone() else {
                return Ok(());
            };
            if fetched.as_ref() == Some(&url) {
                repeats += 1;
                if repeats >= MAX_NEXT_URI_REPEATS {
                    return Err(Err(Error::Protocol {
                        context: format!("GET {url}"),
                        message: format!(
                            "nextUri did not advance in {MAX_NEXT_URI_REPEATS} responses: the server is not \
                             making progress on the protocol"
                        ),
                        position: None,
                    }));
                }
            } else {
                repeats = 0;
            }
            fetched = Some(url.clone());
            let resp = tokio::select! {
                r = self.inner.send(Method::GET, url.clone(), None, Kind::Coordinator) => r.map_err(Err)?,
                () = self.cancel.cancelled() => return Err(Ok(Stop::Cancelled)),
                () = self.until_deadline() => return Err(Ok(Stop::Timeout)),
            };
            self.touch();
            self.inner.apply_headers(&resp.headers);
            page = parse_page(&resp.body, &format!("GET {url}")).map_err(Err)?;
        }
    }

    /// Hands a chunk to the consumer, heartbeating the query while the consumer is slow.
    async fn deliver(
        &self,
        chunk: Chunk,
        next: Option<&Url>,
    ) -> std::result::Result<(), std::result::Result<Stop, Error>> {
        loop {
            tokio::select! {
                permit = self.tx.reserve() => {
                    return match permit {
                        Ok(p) => { p.send(Ok(chunk)); Ok(()) }
                        Err(_) => Err(Ok(Stop::Cancelled)),
                    };
                }
                () = self.heartbeat_due(next) => self.heartbeat(next).await,
                () = self.cancel.cancelled() => return Err(Ok(Stop::Cancelled)),
                () = self.until_deadline() => return Err(Ok(Stop::Timeout)),
            }
        }
    }

    /// Waits for a download slot, heartbeating the query meanwhile.
    async fn permit(
        &self,
        next: Option<&Url>,
    ) -> std::result::Result<OwnedSemaphorePermit, std::result::Result<Stop, Error>> {
        loop {
            tokio::select! {
                p = self.semaphore.clone().acquire_owned() => return p.map_err(|_| Ok(Stop::Cancelled)),
                () = self.heartbeat_due(next) => self.heartbeat(next).await,
                () = self.cancel.cancelled() => return Err(Ok(Stop::Cancelled)),
                () = self.until_deadline() => return Err(Ok(Stop::Timeout)),
            }
        }
    }

    /// Records contact with the coordinator now.
    fn touch(&self) {
        *self.last_contact.lock().expect("contact lock") = tokio::time::Instant::now();
    }

    /// Completes when a heartbeat is due: one interval after the last contact. Never completes once the
    /// query has no `nextUri` (there is nothing left to keep alive).
    async fn heartbeat_due(&self, next: Option<&Url>) {
        if next.is_none() {
            return std::future::pending().await;
        }
        let last = *self.last_contact.lock().expect("contact lock");
        tokio::time::sleep_until(last + self.inner.heartbeat).await;
    }

    async fn heartbeat(&self, next: Option<&Url>) {
        // Counted as contact whatever the outcome, so a failing heartbeat is retried an interval later rather
        // than in a tight loop.
        self.touch();
        if let Some(url) = next
            && let Err(e) = self
                .inner
                .send(Method::HEAD, url.clone(), None, Kind::Coordinator)
                .await
        {
            // HEAD has no body, so the "empty body" rule does not apply; other failures are only logged.
            if !matches!(e, Error::Protocol { .. }) {
                tracing::warn!(error = %e, "query heartbeat failed");
            }
        }
    }
}

fn no_columns(id: &str) -> Error {
    Error::Protocol {
        context: format!("query {id}"),
        message: "data arrived before columns".into(),
        position: None,
    }
}

fn header_map(h: &BTreeMap<String, Vec<String>>) -> Result<HeaderMap> {
    let mut map = HeaderMap::new();
    for (k, vs) in h {
        let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| Error::Protocol {
            context: "segment headers".into(),
            message: format!("invalid header name {k:?}"),
            position: None,
        })?;
        for v in vs {
            let value = HeaderValue::from_str(v).map_err(|_| Error::Protocol {
                context: "segment headers".into(),
                message: format!("invalid value for header {k}"),
                position: None,
            })?;
            map.append(name.clone(), value);
        }
    }
    Ok(map)
}

/// The largest `uncompressedSize` accepted for a segment (1 GiB). Trino cuts segments at a few MB to tens of MB
/// (`protocol.spooling.max-segment-size`), so this only rejects broken metadata.
pub const MAX_UNCOMPRESSED_SEGMENT: u64 = 1 << 30;

/// Checks sizes and decompresses one segment's bytes into its JSON.
fn segment_json<'a>(
    bytes: &'a [u8],
    encoding: &str,
    meta: &SegmentMetadata,
    context: &str,
) -> Result<std::borrow::Cow<'a, [u8]>> {
    let bad = |message: String| Error::Protocol {
        context: context.to_string(),
        message,
        position: None,
    };
    if !matches!(encoding, "json" | "json+zstd" | "json+lz4") {
        return Err(bad(format!("unsupported encoding {encoding:?}")));
    }
    if let Some(size) = meta.uncompressed_size
        && size > MAX_UNCOMPRESSED_SEGMENT
    {
        // The size is allocated up front: an absurd value from a broken or hostile server must be an
        // error, not an allocation that aborts the process.
        return Err(bad(format!(
            "uncompressedSize {size} exceeds the {MAX_UNCOMPRESSED_SEGMENT}-byte limit"
        )));
    }
    if bytes.len() as u64 != meta.segment_size {
        return Err(bad(format!(
            "segment has {} bytes but its metadata says {}",
            bytes.len(),
            meta.segment_size
        )));
    }
    let json: std::borrow::Cow<'a, [u8]> = match (encoding, meta.uncompressed_size) {
        (_, None) => bytes.into(),
        ("json+zstd", Some(size)) => zstd::bulk::decompress(bytes, size as usize)
            .map_err(|e| bad(format!("zstd: {e}")))?
            .into(),
        ("json+lz4", Some(size)) => lz4_flex::block::decompress(bytes, size as usize)
            .map_err(|e| bad(format!("lz4: {e}")))?
            .into(),
        (other, Some(_)) => return Err(bad(format!("encoding {other:?} is not compressed"))),
    };
    if let Some(size) = meta.uncompressed_size
        && json.len() as u64 != size
    {
        return Err(bad(format!(
            "segment decompressed to {} bytes but its metadata says {size}",
            json.len()
        )));
    }
    Ok(json)
}

fn check_rows(n: u64, meta: &SegmentMetadata, context: &str) -> Result<()> {
    if n != meta.rows_count {
        return Err(Error::Protocol {
            context: context.to_string(),
            message: format!(
                "segment has {n} rows but its metadata says {}",
                meta.rows_count
            ),
            position: None,
        });
    }
    Ok(())
}

/// Checks sizes, decompresses and decodes one (inline) segment's bytes.
fn decode_segment(
    bytes: &[u8],
    encoding: &str,
    meta: &SegmentMetadata,
    columns: &Arc<Columns>,
    context: &str,
) -> Result<Vec<Row>> {
    let json = segment_json(bytes, encoding, meta, context)?;
    let mut rows = Vec::with_capacity(meta.rows_count.min(1 << 20) as usize);
    decode_rows(&json, columns, &mut rows, context)?;
    check_rows(rows.len() as u64, meta, context)?;
    Ok(rows)
}

/// Rows per batch when decoding a spooled segment.
const SEGMENT_BATCH_ROWS: usize = 4096;

struct SegmentJob {
    inner: Arc<Inner>,
    uri: Url,
    ack: Url,
    headers: HeaderMap,
    metadata: SegmentMetadata,
    encoding: String,
    columns: Arc<Columns>,
}

impl SegmentJob {
    /// Downloads, checks and decodes the segment, sending batches of rows to `tx` (which bounds how far
    /// it runs ahead of the consumer), then acknowledges it. Errors go to `tx` as well.
    async fn run(self, tx: mpsc::Sender<Result<Vec<Row>>>, permit: OwnedSemaphorePermit) {
        let outcome = self.download_and_decode(&tx).await;
        let decoded = outcome.is_ok();
        if let Err(e) = outcome {
            let _ = tx.send(Err(e)).await;
        }
        // Release the consumer and the download slot before the acknowledgement round trip, so the ack's
        // latency is never on the critical path.
        drop(tx);
        drop(permit);
        if decoded
            && let Err(e) = self
                .inner
                .send(
                    Method::GET,
                    self.ack.clone(),
                    None,
                    Kind::Segment(&self.headers),
                )
                .await
        {
            tracing::warn!(uri = %self.ack, error = %e, "segment acknowledgement failed");
        }
    }

    async fn download_and_decode(&self, tx: &mpsc::Sender<Result<Vec<Row>>>) -> Result<()> {
        let resp = self
            .inner
            .send(
                Method::GET,
                self.uri.clone(),
                None,
                Kind::Segment(&self.headers),
            )
            .await?;
        let context = format!("segment {}", self.uri);
        let columns = self.columns.clone();
        let (encoding, metadata) = (self.encoding.clone(), self.metadata);
        let batches = tx.clone();
        // Decompression and decoding are CPU work: keep them off the I/O threads.
        tokio::task::spawn_blocking(move || -> Result<()> {
            let json = segment_json(&resp.body, &encoding, &metadata, &context)?;
            let mut sink = |rows: Vec<Row>| batches.blocking_send(Ok(rows)).is_ok();
            let n = crate::value::decode_rows_batched(
                &json,
                &columns,
                SEGMENT_BATCH_ROWS,
                &mut sink,
                &context,
            )?;
            check_rows(n, &metadata, &context)
        })
        .await
        .map_err(|e| Error::Protocol {
            context: "segment decoder".into(),
            message: e.to_string(),
            position: None,
        })??;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt as _;

    use super::*;

    fn stream(rx: mpsc::Receiver<Result<Chunk>>) -> QueryStream {
        QueryStream {
            rx,
            pending: None,
            batches: None,
            current: Vec::new().into_iter(),
            status: Default::default(),
            cancel: CancellationToken::new(),
            done: false,
        }
    }

    fn empty_row() -> Row {
        Row::new(Vec::new(), Arc::new(crate::value::Columns::new(Vec::new())))
    }

    #[tokio::test]
    async fn a_driver_that_dies_mid_query_is_an_error_not_a_short_result() {
        let (tx, rx) = mpsc::channel(4);
        tx.send(Ok(Chunk::Rows(vec![empty_row()]))).await.unwrap();
        drop(tx); // what a panicking driver task leaves behind: no `End`
        let mut s = stream(rx);
        assert!(s.next().await.unwrap().is_ok());
        let err = s.next().await.unwrap().unwrap_err();
        assert!(err.to_string().contains("incomplete"), "{err}");
        assert!(s.next().await.is_none());
    }

    #[tokio::test]
    async fn a_finished_query_ends_the_stream() {
        let (tx, rx) = mpsc::channel(4);
        tx.send(Ok(Chunk::Rows(vec![empty_row()]))).await.unwrap();
        tx.send(Ok(Chunk::End)).await.unwrap();
        drop(tx);
        let rows: Vec<Result<Row>> = stream(rx).collect().await;
        assert_eq!(rows.len(), 1);
        assert!(rows[0].is_ok());
    }
}
