//! The probe's side of the wire: real WebSocket connections
//! (tokio-tungstenite), each bounded by the options' timeout.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout, timeout_at};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{Action, Expect, Observed, Options};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A token minted as its check starts (a short-lived one minted with the
/// plan would be stale by then), replacing `mark` wherever it was placed.
#[derive(Clone)]
pub(crate) struct Fresh {
    /// Stands for the token in the request.
    pub(crate) mark: &'static str,
    /// Mints it.
    pub(crate) mint: std::sync::Arc<dyn Fn() -> Option<String> + Send + Sync>,
}

impl Request {
    /// This request with its fresh token minted and in place.
    fn minted(&self) -> Option<Request> {
        let mut request = self.clone();
        let Some(fresh) = request.fresh.take() else {
            return Some(request);
        };
        let token = (fresh.mint)()?;
        request.path = request.path.replace(fresh.mark, &token);
        for (_, value) in &mut request.headers {
            *value = value.replace(fresh.mark, &token);
        }
        for protocol in &mut request.protocols {
            *protocol = protocol.replace(fresh.mark, &token);
        }
        Some(request)
    }
}

impl std::fmt::Debug for Fresh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fresh")
    }
}

/// A handshake: path and query, headers, offered subprotocols, and the
/// welcome that tells admission (if the endpoint sends one).
#[derive(Clone, Debug, Default)]
pub(crate) struct Request {
    /// Path with its query, from the server's root.
    pub(crate) path: String,
    /// Extra headers.
    pub(crate) headers: Vec<(String, String)>,
    /// `Sec-WebSocket-Protocol` entries.
    pub(crate) protocols: Vec<String>,
    /// The endpoint's welcome message type.
    pub(crate) welcome: Option<String>,
    /// A token to mint and place as the check starts.
    pub(crate) fresh: Option<Fresh>,
}

impl Request {
    /// The request for the report: path and headers, tokens shortened.
    pub(crate) fn describe(&self) -> String {
        let mut out = shorten(&self.path);
        for (name, value) in &self.headers {
            out.push_str(&format!("; {name}: {}", shorten(value)));
        }
        if !self.protocols.is_empty() {
            out.push_str(&format!(
                "; Sec-WebSocket-Protocol: {}",
                shorten(&self.protocols.join(", "))
            ));
        }
        out
    }
}

/// Long tokens as their first and last characters: enough to tell them
/// apart in a report, not to use them.
fn shorten(text: &str) -> String {
    let mut out = String::new();
    for word in text.split_inclusive(['=', ' ', '&', ',', '.', '/']) {
        if word.chars().count() > 24 {
            let start: String = word.chars().take(8).collect();
            let end: String = word.chars().skip(word.chars().count() - 4).collect();
            out.push_str(&start);
            out.push('…');
            out.push_str(&end);
        } else {
            out.push_str(word);
        }
    }
    out
}

/// Connects: the socket, or how the handshake ended.
async fn connect(
    options: &Options,
    request: &Request,
) -> Result<(Socket, Option<String>), Observed> {
    let url = format!("{}{}", options.url.trim_end_matches('/'), request.path);
    let mut http = url
        .as_str()
        .into_client_request()
        .map_err(|e| Observed::Failed {
            error: format!("{url}: {e}"),
        })?;
    for (name, value) in &request.headers {
        let name: tungstenite::http::HeaderName = name.parse().map_err(|_| Observed::Failed {
            error: format!("header name {name}"),
        })?;
        let value = HeaderValue::from_str(value).map_err(|_| Observed::Failed {
            error: format!("header value for {name}"),
        })?;
        http.headers_mut().append(name, value);
    }
    if !request.protocols.is_empty() {
        let value =
            HeaderValue::from_str(&request.protocols.join(", ")).map_err(|_| Observed::Failed {
                error: "subprotocol header".into(),
            })?;
        http.headers_mut().insert("sec-websocket-protocol", value);
    }
    // Large enough for the oversize checks' own frames.
    let config = WebSocketConfig::default()
        .max_message_size(Some(64 << 20))
        .max_frame_size(Some(64 << 20));
    let connecting = tokio_tungstenite::connect_async_with_config(http, Some(config), true);
    match timeout(options.timeout, connecting).await {
        Err(_) => Err(Observed::Timeout),
        Ok(Ok((socket, response))) => {
            let selected = response
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            Ok((socket, selected))
        }
        Ok(Err(tungstenite::Error::Http(response))) => Err(Observed::Http {
            status: response.status().as_u16(),
        }),
        Ok(Err(e)) => Err(Observed::Failed {
            error: e.to_string(),
        }),
    }
}

/// What a check waits for after its request.
#[derive(Clone, Copy)]
enum Interest<'a> {
    /// The first text frame (a welcome).
    Any,
    /// A close, or an `error` reply; other messages are the server going
    /// on with its work (a stream, a publication) and are read past.
    Refusal,
    /// A reply of this `type`, or a refusal (an `error`, or a topic
    /// request's `wsauth.refused`).
    Reply(&'a str),
    /// A refusal, or any other message, which shows the connection was
    /// admitted (`Admitted`).
    Data,
}

/// What the server says until `deadline` that `interest` cares about: a
/// close, a text frame's `type` (and `code`), or quiet (`Admitted`) when
/// the deadline passes.
async fn answer(socket: &mut Socket, deadline: Instant, interest: Interest<'_>) -> Observed {
    loop {
        match timeout_at(deadline, socket.next()).await {
            Err(_) => return Observed::Admitted,
            Ok(None) => {
                return Observed::Closed {
                    code: 1006,
                    reason: String::new(),
                };
            }
            Ok(Some(Err(e))) => {
                return match e {
                    tungstenite::Error::ConnectionClosed
                    | tungstenite::Error::AlreadyClosed
                    | tungstenite::Error::Io(_)
                    | tungstenite::Error::Protocol(_) => Observed::Closed {
                        code: 1006,
                        reason: String::new(),
                    },
                    e => Observed::Failed {
                        error: e.to_string(),
                    },
                };
            }
            Ok(Some(Ok(Message::Close(frame)))) => {
                return match frame {
                    Some(frame) => Observed::Closed {
                        code: frame.code.into(),
                        reason: frame.reason.to_string(),
                    },
                    None => Observed::Closed {
                        code: 1005,
                        reason: String::new(),
                    },
                };
            }
            Ok(Some(Ok(Message::Text(text)))) => {
                let value: serde_json::Value =
                    serde_json::from_str(text.as_str()).unwrap_or(serde_json::Value::Null);
                let kind = value["type"].as_str().unwrap_or("").to_owned();
                let wanted = match interest {
                    Interest::Any => true,
                    Interest::Refusal => kind == "error",
                    Interest::Reply(want) => {
                        kind == "error" || kind == wsauth_spec::wire::REFUSED || kind == want
                    }
                    Interest::Data if kind == "error" => true,
                    Interest::Data => return Observed::Admitted,
                };
                if wanted {
                    // An `error`'s code, or a topic refusal's `error`.
                    let code = value["code"]
                        .as_str()
                        .or_else(|| value["error"].as_str())
                        .map(str::to_owned);
                    return Observed::Reply { kind, code };
                }
            }
            Ok(Some(Ok(Message::Binary(_)))) if matches!(interest, Interest::Data) => {
                return Observed::Admitted;
            }
            Ok(Some(Ok(_))) => {}
        }
    }
}

/// Opens `request` and waits for admission: its welcome (the first text
/// frame) or, without one, the first message that is not a refusal, or
/// the settle time passing with no close. A connection that stays open
/// without the welcome the spec promises is open but `welcomed: false`:
/// the admission check deviates, the checks that only need it open go on.
async fn open(options: &Options, request: &Request) -> Result<Opened, Observed> {
    let (mut socket, _) = connect(options, request).await?;
    let Some(welcome) = &request.welcome else {
        let deadline = Instant::now() + options.settle;
        return match answer(&mut socket, deadline, Interest::Data).await {
            Observed::Admitted => Ok(Opened {
                socket,
                welcomed: true,
            }),
            other => Err(other),
        };
    };
    match answer(&mut socket, Instant::now() + options.timeout, Interest::Any).await {
        Observed::Reply { kind, .. } if &kind == welcome => Ok(Opened {
            socket,
            welcomed: true,
        }),
        Observed::Admitted => Ok(Opened {
            socket,
            welcomed: false,
        }),
        Observed::Reply { kind, .. } if kind != "error" => Ok(Opened {
            socket,
            welcomed: false,
        }),
        other => Err(other),
    }
}

/// An open connection, and whether its welcome came.
struct Opened {
    socket: Socket,
    welcomed: bool,
}

/// Does what `action` says and reports what the server did.
pub(crate) async fn perform(action: &Action, expect: &Expect, options: &Options) -> Observed {
    match action {
        Action::None => Observed::Admitted,
        Action::Open(request) => match open(options, request).await {
            Ok(Opened { socket, welcomed }) => {
                finish(socket).await;
                if welcomed {
                    Observed::Admitted
                } else {
                    Observed::NoWelcome
                }
            }
            Err(observed) => observed,
        },
        Action::Protocol(request) => match connect(options, request).await {
            Ok((socket, selected)) => {
                finish(socket).await;
                match selected {
                    Some(selected) if selected.contains(".bearer.") || selected.len() > 64 => {
                        Observed::Protocol { selected }
                    }
                    _ => Observed::Admitted,
                }
            }
            Err(observed) => observed,
        },
        Action::Send(request, frames) => match open(options, request).await {
            Ok(Opened { mut socket, .. }) => {
                for frame in frames {
                    if let Err(e) = socket.send(Message::text(frame.clone())).await {
                        return Observed::Failed {
                            error: e.to_string(),
                        };
                    }
                }
                let interest = match expect {
                    Expect::Reply { kind, .. } => Interest::Reply(kind),
                    _ => Interest::Refusal,
                };
                let deadline = Instant::now()
                    + match expect {
                        Expect::Reply { .. } => options.timeout,
                        _ => options.settle,
                    };
                let observed = answer(&mut socket, deadline, interest).await;
                finish(socket).await;
                observed
            }
            Err(observed) => observed,
        },
        Action::Oversize(request, bytes) => match open(options, request).await {
            Ok(Opened { mut socket, .. }) => {
                let text = "x".repeat(*bytes);
                // The server may close before reading it all: what it says
                // is read either way.
                let _ = socket.send(Message::text(text)).await;
                answer(
                    &mut socket,
                    Instant::now() + options.timeout,
                    Interest::Refusal,
                )
                .await
            }
            Err(observed) => observed,
        },
        Action::Flood(request, count) => match open(options, request).await {
            Ok(Opened { mut socket, .. }) => {
                for _ in 0..*count {
                    if socket.feed(Message::Ping(Vec::new().into())).await.is_err() {
                        break;
                    }
                }
                let _ = socket.flush().await;
                answer(
                    &mut socket,
                    Instant::now() + options.timeout,
                    Interest::Refusal,
                )
                .await
            }
            Err(observed) => observed,
        },
        Action::ConnectionLimit(request, count) => {
            let mut held = Vec::new();
            for _ in 0..*count {
                match open(options, request).await {
                    Ok(opened) => held.push(opened.socket),
                    Err(observed) => {
                        let error = format!(
                            "connection {} of {count} was not admitted: {observed}",
                            held.len() + 1
                        );
                        close_all(held).await;
                        return Observed::Failed { error };
                    }
                }
            }
            let observed = match open(options, request).await {
                Ok(opened) => {
                    finish(opened.socket).await;
                    Observed::Admitted
                }
                Err(observed) => observed,
            };
            close_all(held).await;
            observed
        }
        Action::Idle(request, wait) => match open(options, request).await {
            Ok(Opened { mut socket, .. }) => {
                // Not reading: the server's pings go unanswered.
                tokio::time::sleep(*wait).await;
                answer(
                    &mut socket,
                    Instant::now() + options.timeout,
                    Interest::Refusal,
                )
                .await
            }
            Err(observed) => observed,
        },
        Action::Expiry(request, wait) => {
            let Some(request) = request.minted() else {
                return Observed::Failed {
                    error: "could not mint the short-lived token".into(),
                };
            };
            expiry(options, &request, *wait).await
        }
    }
}

async fn expiry(options: &Options, request: &Request, wait: Duration) -> Observed {
    {
        match open(options, request).await {
            Ok(Opened { mut socket, .. }) => {
                answer(&mut socket, Instant::now() + wait, Interest::Refusal).await
            }
            Err(observed) => observed,
        }
    }
}

async fn close_all(held: Vec<Socket>) {
    for socket in held {
        finish(socket).await;
    }
}

/// Closes `socket` and reads to the server's close, so that the server
/// counts the connection gone before the next check opens one.
async fn finish(mut socket: Socket) {
    let _ = socket.close(None).await;
    let _ = timeout(Duration::from_secs(2), async {
        while let Some(Ok(_)) = socket.next().await {}
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::shorten;

    #[test]
    fn long_words_are_shortened_on_character_boundaries() {
        let token = format!("{}.{}", "a".repeat(40), "b".repeat(40));
        assert_eq!(
            shorten(&format!("/ws?token={token}")),
            "/ws?token=aaaaaaaa…aaa.bbbbbbbb…bbbb"
        );
        // A subject of multi-byte characters: no byte slicing.
        let name = "ü".repeat(30);
        assert_eq!(
            shorten(&name),
            format!("{}…{}", "ü".repeat(8), "ü".repeat(4))
        );
        assert_eq!(shorten("/ws/short/path"), "/ws/short/path");
    }
}
