//! A minimal HTTP/1.1 client for the timed requests: one keep-alive socket per client,
//! the request written in one go from bytes prepared beforehand, the answer read up to
//! its `Content-Length`. Like wrk, it spends far less CPU per request than a general
//! client, which matters when the load generator shares two cores with the service and
//! PostgreSQL (reqwest took about 30 µs of CPU per request, a third of a core at 10,000
//! requests/s). Only what the service answers to a POST is understood: a status line,
//! headers and a `Content-Length` body; anything else is an error.

use std::io;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Where the timed requests go and how they are authorised.
#[derive(Clone, Debug)]
pub struct Target {
    /// `host:port`.
    pub address: String,
    /// The whole `Authorization` header value.
    pub authorization: String,
}

impl Target {
    /// The target of `base_url` (`http://host:port`) with this `Authorization` value.
    pub fn new(base_url: &str, authorization: &str) -> Self {
        Self {
            address: base_url
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .to_owned(),
            authorization: authorization.to_owned(),
        }
    }
}

pub struct Connection {
    stream: BufReader<TcpStream>,
    request: Vec<u8>,
    line: String,
}

impl Connection {
    pub async fn open(target: &Target) -> io::Result<Self> {
        let stream = TcpStream::connect(&target.address).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream: BufReader::with_capacity(64 * 1024, stream),
            request: Vec::with_capacity(64 * 1024),
            line: String::new(),
        })
    }

    /// POSTs `body` as JSON to `path` and returns the status; the answer's body is read
    /// and dropped, leaving the connection ready for the next request.
    pub async fn post(&mut self, target: &Target, path: &str, body: &[u8]) -> io::Result<u16> {
        self.request.clear();
        self.request.extend_from_slice(
            format!(
                "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                target.address,
                target.authorization,
                body.len()
            )
            .as_bytes(),
        );
        self.request.extend_from_slice(body);
        self.stream.get_mut().write_all(&self.request).await?;
        self.read_answer().await
    }

    async fn read_answer(&mut self) -> io::Result<u16> {
        let malformed = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
        self.line.clear();
        if self.stream.read_line(&mut self.line).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let status: u16 = self
            .line
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| malformed("no status line"))?;
        let mut length = None;
        loop {
            self.line.clear();
            if self.stream.read_line(&mut self.line).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let header = self.line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse::<u64>().ok();
                }
            }
        }
        let length = length.ok_or_else(|| malformed("no Content-Length"))?;
        let copied =
            tokio::io::copy(&mut (&mut self.stream).take(length), &mut tokio::io::sink()).await?;
        if copied != length {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(status)
    }
}
