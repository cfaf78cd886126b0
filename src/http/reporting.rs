//! Rates in the chain, balances at a date or seq, and converted financial reports
//! (trial balance, balance sheet, income statement). Reports convert only with rates
//! published in the log and name every rate they used (`docs/reporting.md`).

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

use crate::core::account::AccountType;
use crate::core::currency::{Currency, CurrencyBook, CurrencyCode};
use crate::core::decide::Command;
use crate::core::ledger::LedgerId;
use crate::core::rates::{parse_rate, Rate, Used, Via};
use crate::core::reports::{self, Line, Movement, RateMode};
use crate::core::{limits, CoreError};
use crate::store::events::Head;
use crate::store::reporting::{self as store, dawn, AsOf};

use super::accounts::{amount, read_request};
use super::entries::{submit_one, write_request};
use super::ledgers::not_found;
use super::reports::{day, Table};
use super::{body, ApiError, AppState};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateBody {
    /// One unit of `base` is `rate` units of `quote`.
    pub base: String,
    pub quote: String,
    /// A positive decimal string, at most 12 decimals.
    pub rate: String,
    /// `YYYY-MM-DD`: used for conversions on this day and after, until a later rate.
    pub effective_date: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishRates {
    /// 1 to 1,000 rates, appended as one `rate.published` event.
    pub rates: Vec<RateBody>,
}

impl PublishRates {
    fn into_command(self, book: &CurrencyBook) -> Result<Command, CoreError> {
        let currency = |code: &str| book.resolve(code);
        if self.rates.is_empty() || self.rates.len() > limits::RATES_PER_EVENT_MAX {
            return Err(CoreError::InvalidField {
                field: "rates",
                reason: format!("give 1 to {} rates", limits::RATES_PER_EVENT_MAX),
            });
        }
        let rates = self
            .rates
            .iter()
            .map(|r| {
                let base = currency(&r.base)?.code().clone();
                let quote = currency(&r.quote)?.code().clone();
                if base == quote {
                    return Err(CoreError::InvalidField {
                        field: "quote",
                        reason: format!(
                            "a rate converts between two currencies, not {base} to itself"
                        ),
                    });
                }
                Ok(Rate {
                    base,
                    quote,
                    rate: parse_rate(&r.rate)?,
                    effective_date: super::dto::parse_date(&r.effective_date)?,
                })
            })
            .collect::<Result<Vec<_>, CoreError>>()?;
        Ok(Command::PublishRates { rates })
    }
}

#[utoipa::path(post, path = "/v1/ledgers/{ledger}/rates", tag = "reports", params(("ledger" = String, Path), ("Idempotency-Key" = Option<String>, Header)), request_body = PublishRates, responses((status = 201, description = "The rate.published event"), (status = 422, description = "Unknown currency, bad rate or date", content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn publish_rates(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (ledger, body, idempotency) = write_request(&state, &request, &path, payload).await?;
    let rates: PublishRates = body::parse(&body)?;
    let codes = rates
        .rates
        .iter()
        .flat_map(|r| [r.base.as_str(), r.quote.as_str()]);
    let book = super::currencies::book_for(&state, &ledger, codes).await?;
    let command = rates.into_command(&book)?;
    submit_one(&state, &ledger, command, idempotency).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BalancesQuery {
    /// Entries effective on or before this day.
    pub as_of: Option<String>,
    /// Events up to and including this seq.
    pub as_of_seq: Option<u64>,
}

fn as_of(query: &BalancesQuery) -> Result<Option<AsOf>, ApiError> {
    match (&query.as_of, query.as_of_seq) {
        (Some(_), Some(_)) => Err(ApiError::InvalidRequest(
            "give as_of or as_of_seq, not both".into(),
        )),
        (Some(d), None) => Ok(Some(AsOf::Date(day("as_of", Some(d))?.expect("given")))),
        (None, Some(seq)) if seq >= 1 => Ok(Some(AsOf::Seq(seq))),
        (None, Some(_)) => Err(ApiError::InvalidRequest("as_of_seq starts at 1".into())),
        (None, None) => Ok(None),
    }
}

/// Balances at a date or seq, from the balance history (not a replay of the log).
pub(super) async fn balances_at(
    state: &AppState,
    ledger: &LedgerId,
    query: &BalancesQuery,
) -> Result<Option<HttpResponse>, ApiError> {
    let Some(at) = as_of(query)? else {
        return Ok(None);
    };
    if let AsOf::Seq(seq) = at {
        let head = crate::store::events::head(&state.pool, ledger)
            .await?
            .ok_or_else(|| not_found(ledger))?;
        if seq > head.seq {
            return Err(ApiError::InvalidRequest(format!(
                "as_of_seq {seq} is beyond the head, {}",
                head.seq
            )));
        }
    }
    let read = store::balances_as_of(&state.pool, ledger, at).await?;
    let Head { seq, hash } = read.head.ok_or_else(|| not_found(ledger))?;
    let balances: Vec<Value> = read
        .rows
        .iter()
        .filter(|m| !(m.debits.is_zero() && m.credits.is_zero()))
        .map(|m| {
            let debit_normal = AccountType::parse(&m.account_type)
                .map(AccountType::is_debit_normal)
                .unwrap_or(true);
            let net = if debit_normal {
                m.debits - m.credits
            } else {
                m.credits - m.debits
            };
            json!({
                "account": m.account,
                "currency": m.currency,
                "debits": amount(m.debits, &m.currency),
                "credits": amount(m.credits, &m.currency),
                "balance": amount(net, &m.currency),
            })
        })
        .collect();
    let at = match at {
        AsOf::Date(d) => json!({"as_of": d.to_string()}),
        AsOf::Seq(s) => json!({"as_of_seq": s}),
    };
    let mut body =
        json!({"ledger": ledger.as_str(), "seq": seq, "hash": hash, "balances": balances});
    body.as_object_mut()
        .expect("an object")
        .extend(at.as_object().cloned().unwrap_or_default());
    Ok(Some(HttpResponse::Ok().json(body)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// Reporting currency (default: the ledger's base currency).
    currency: Option<String>,
    /// `closing` (default) or `historical`.
    rate: Option<String>,
    /// Roll accounts up to this many segments.
    depth: Option<usize>,
    /// Trial balance and balance sheet: the day (default today, UTC).
    as_of: Option<String>,
    /// Income statement: first and last day of the period.
    from: Option<String>,
    to: Option<String>,
    /// Only accounts under this prefix (`assets:bank` takes `assets:bank:eur`).
    account: Option<String>,
}

struct Params {
    ledger: LedgerId,
    currency: Currency,
    base: CurrencyCode,
    mode: RateMode,
    depth: Option<usize>,
    book: crate::core::rates::RateBook,
    prefix: Option<String>,
}

async fn params(
    state: &AppState,
    request: &HttpRequest,
    ledger: &str,
    q: &ReportQuery,
) -> Result<Params, ApiError> {
    let ledger = read_request(state, request, ledger).await?;
    let (info, book) = store::ledger_and_rates(&state.pool, &ledger)
        .await?
        .ok_or_else(|| not_found(&ledger))?;
    let base =
        CurrencyCode::parse(&info.base_currency).map_err(|e| ApiError::Internal(e.to_string()))?;
    let currency = match &q.currency {
        Some(code) => {
            let book = super::currencies::book_for(state, &ledger, [code.as_str()]).await?;
            book.resolve(code)?
        }
        None => Currency::iso(&base).map_err(|e| ApiError::Internal(e.to_string()))?,
    };
    let mode = RateMode::parse(q.rate.as_deref().unwrap_or("closing"))?;
    if q.depth
        .is_some_and(|d| d == 0 || d > limits::ACCOUNT_SEGMENTS_MAX)
    {
        return Err(ApiError::InvalidRequest(format!(
            "depth is 1 to {}",
            limits::ACCOUNT_SEGMENTS_MAX
        )));
    }
    let prefix = match &q.account {
        Some(prefix) => {
            let code = crate::core::account::AccountCode::parse(prefix)?;
            if !store::prefix_exists(&state.pool, &ledger, code.as_str()).await? {
                return Err(
                    CoreError::AccountNotFound(format!("{code} (no account under it)")).into(),
                );
            }
            Some(code.as_str().to_owned())
        }
        None => None,
    };
    Ok(Params {
        ledger,
        currency,
        base,
        mode,
        depth: q.depth,
        book,
        prefix,
    })
}

fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

/// Movements over `[from, to]`: per day for historical rates, one per account and
/// currency (dated `to`) for closing rates.
async fn movements(
    state: &AppState,
    p: &Params,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<(Head, Vec<Movement>), ApiError> {
    let parse =
        |account_type: &str, currency: &str| -> Result<(AccountType, CurrencyCode), ApiError> {
            let internal = |e: CoreError| ApiError::Internal(e.to_string());
            Ok((
                AccountType::parse(account_type).map_err(internal)?,
                CurrencyCode::parse(currency).map_err(internal)?,
            ))
        };
    let read = store::movements_by_day(&state.pool, &p.ledger, from, to).await?;
    let head = read.head.ok_or_else(|| not_found(&p.ledger))?;
    let mut out = Vec::with_capacity(read.rows.len());
    let under = |account: &str| match &p.prefix {
        Some(prefix) => {
            account == prefix
                || account
                    .strip_prefix(prefix.as_str())
                    .is_some_and(|rest| rest.starts_with(':'))
        }
        None => true,
    };
    for r in read.rows.into_iter().filter(|r| under(&r.movement.account)) {
        let (account_type, currency) = parse(&r.movement.account_type, &r.movement.currency)?;
        out.push(Movement {
            account: r.movement.account,
            account_type,
            currency,
            day: r.day,
            debits: r.movement.debits,
            credits: r.movement.credits,
        });
    }
    Ok((head, out))
}

fn money(value: Decimal, code: &CurrencyCode) -> Value {
    Value::String(amount(value, code.as_str()))
}

/// A debit or credit column: empty when zero, so each line shows one side.
fn side(value: Decimal, code: &CurrencyCode) -> Value {
    if value.is_zero() {
        Value::Null
    } else {
        money(value, code)
    }
}

fn via(used: &Used) -> Value {
    match &used.via {
        Via::Direct => json!("direct"),
        Via::Inverse => json!("inverse"),
        Via::Base(b) => json!(format!("through {b}")),
    }
}

fn rates_json(rates: &[Used], mode: RateMode) -> Value {
    Value::Array(
        rates
            .iter()
            .map(|u| {
                let mut v = json!({
                    "from": u.from.as_str(),
                    "to": u.to.as_str(),
                    "rate": u.rate.normalize().to_string(),
                    "via": via(u),
                    "published": u.sources.iter().map(|s| json!({
                        "base": s.base.as_str(),
                        "quote": s.quote.as_str(),
                        "rate": s.rate.normalize().to_string(),
                        "effective_date": s.effective_date.to_string(),
                        "seq": s.seq,
                    })).collect::<Vec<_>>(),
                });
                if mode == RateMode::Historical {
                    v["for"] = json!("postings effective on or after the published dates");
                }
                v
            })
            .collect(),
    )
}

const LINE_COLUMNS: &[&str] = &[
    "account",
    "type",
    "currency",
    "native_debit",
    "native_credit",
    "debit",
    "credit",
];

fn line_row(l: &Line, to: &CurrencyCode) -> Vec<Value> {
    let split = |v: Decimal| (v.max(Decimal::ZERO), (-v).max(Decimal::ZERO));
    let (nd, nc) = split(l.native);
    let (cd, cc) = split(l.converted);
    vec![
        Value::String(l.account.clone()),
        Value::String(l.account_type.as_str().into()),
        Value::String(l.currency.to_string()),
        side(nd, &l.currency),
        side(nc, &l.currency),
        side(cd, to),
        side(cc, to),
    ]
}

fn summary_row(label: &str, to: &CurrencyCode, value: Decimal) -> Vec<Value> {
    vec![
        Value::String(label.into()),
        Value::Null,
        Value::String(to.to_string()),
        Value::Null,
        Value::Null,
        side(value.max(Decimal::ZERO), to),
        side((-value).max(Decimal::ZERO), to),
    ]
}

fn common(p: &Params, rates: &[Used]) -> Map<String, Value> {
    let mut extra = Map::new();
    extra.insert("currency".into(), json!(p.currency.code().as_str()));
    extra.insert(
        "rate".into(),
        json!(match p.mode {
            RateMode::Closing => "closing",
            RateMode::Historical => "historical",
        }),
    );
    extra.insert("depth".into(), json!(p.depth));
    extra.insert("rates".into(), rates_json(rates, p.mode));
    extra.insert("account".into(), json!(p.prefix));
    extra
}

#[utoipa::path(get, path = "/v1/ledgers/{ledger}/reports/trial-balance", tag = "reports", params(("ledger" = String, Path), ("currency" = Option<String>, Query), ("as_of" = Option<String>, Query), ("rate" = Option<String>, Query), ("depth" = Option<usize>, Query)), responses((status = 200, description = "Every account, native and converted; debits = credits (JSON or CSV)"), (status = 422, description = "Missing rates (all listed), bad query", content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn trial_balance(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse, ApiError> {
    let p = params(&state, &request, &path, &query).await?;
    refuse_period(&query)?;
    let at = day("as_of", query.as_of.as_deref())?.unwrap_or_else(today);
    let (head, moves) = movements(&state, &p, dawn(), at).await?;
    let mut report = reports::convert(&moves, &p.book, &p.currency, &p.base, p.mode, at, p.depth)?;
    if p.prefix.is_some() {
        // Part of the accounts does not balance: there is nothing to round to.
        report.rounding = Decimal::ZERO;
    }
    let to = p.currency.code();
    let mut rows: Vec<Vec<Value>> = report.lines.iter().map(|l| line_row(l, to)).collect();
    if !report.rounding.is_zero() {
        rows.push(summary_row("rounding", to, report.rounding));
    }
    let mut extra = common(&p, &report.rates);
    extra.insert("as_of".into(), json!(at.to_string()));
    extra.insert(
        "totals".into(),
        json!({"debit": money(report.converted_debits(), to), "credit": money(report.converted_credits(), to)}),
    );
    Table {
        ledger: p.ledger,
        head,
        name: "lines",
        columns: LINE_COLUMNS,
        rows,
        extra,
    }
    .respond(&request)
}

fn refuse_period(q: &ReportQuery) -> Result<(), ApiError> {
    if q.from.is_some() || q.to.is_some() {
        return Err(ApiError::InvalidRequest(
            "this report is at a date: use as_of, not from/to".into(),
        ));
    }
    Ok(())
}

#[utoipa::path(get, path = "/v1/ledgers/{ledger}/reports/balance-sheet", tag = "reports", params(("ledger" = String, Path), ("currency" = Option<String>, Query), ("as_of" = Option<String>, Query), ("rate" = Option<String>, Query), ("depth" = Option<usize>, Query)), responses((status = 200, description = "Assets = liabilities + equity + current earnings, converted (JSON or CSV)"), (status = 422, description = "Missing rates (all listed), bad query", content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn balance_sheet(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse, ApiError> {
    use AccountType::*;
    let p = params(&state, &request, &path, &query).await?;
    refuse_period(&query)?;
    let at = day("as_of", query.as_of.as_deref())?.unwrap_or_else(today);
    let (head, moves) = movements(&state, &p, dawn(), at).await?;
    let mut bs =
        reports::balance_sheet(&moves, &p.book, &p.currency, &p.base, p.mode, at, p.depth)?;
    if p.prefix.is_some() {
        bs.rounding = Decimal::ZERO;
        bs.translation_adjustment = Decimal::ZERO;
    }
    let to = p.currency.code();
    // Income and expense accounts are not listed: their net is current earnings.
    let mut rows: Vec<Vec<Value>> = bs.lines.iter().map(|l| line_row(l, to)).collect();
    rows.push(summary_row("current earnings", to, bs.earnings));
    if !bs.translation_adjustment.is_zero() {
        rows.push(summary_row(
            "translation adjustment",
            to,
            bs.translation_adjustment,
        ));
    }
    if !bs.rounding.is_zero() {
        rows.push(summary_row("rounding", to, bs.rounding));
    }
    let assets = bs.sum_of(&[Asset]) + bs.rounding.max(Decimal::ZERO);
    let claims = -(bs.sum_of(&[Liability, Equity]) + bs.earnings + bs.translation_adjustment)
        + (-bs.rounding).max(Decimal::ZERO);
    let mut extra = common(&p, &bs.rates);
    extra.insert("as_of".into(), json!(at.to_string()));
    extra.insert(
        "totals".into(),
        json!({
            "assets": money(assets, to),
            "liabilities": money(-bs.sum_of(&[Liability]), to),
            "equity": money(-bs.sum_of(&[Equity]), to),
            "current_earnings": money(-bs.earnings, to),
            "translation_adjustment": money(-bs.translation_adjustment, to),
            "liabilities_and_equity": money(claims, to),
        }),
    );
    Table {
        ledger: p.ledger,
        head,
        name: "lines",
        columns: LINE_COLUMNS,
        rows,
        extra,
    }
    .respond(&request)
}

#[utoipa::path(get, path = "/v1/ledgers/{ledger}/reports/income-statement", tag = "reports", params(("ledger" = String, Path), ("currency" = Option<String>, Query), ("from" = Option<String>, Query), ("to" = Option<String>, Query), ("rate" = Option<String>, Query), ("depth" = Option<usize>, Query)), responses((status = 200, description = "Income and expenses of a period and the net income, converted (JSON or CSV)"), (status = 422, description = "Missing rates (all listed), from after to", content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn income_statement(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse, ApiError> {
    use AccountType::*;
    let p = params(&state, &request, &path, &query).await?;
    if query.as_of.is_some() {
        return Err(ApiError::InvalidRequest(
            "the income statement is for a period: use from and to".into(),
        ));
    }
    let to_day = day("to", query.to.as_deref())?.unwrap_or_else(today);
    let from_day = day("from", query.from.as_deref())?.unwrap_or_else(dawn);
    if from_day > to_day {
        return Err(ApiError::InvalidRequest(format!(
            "from {from_day} is after to {to_day}"
        )));
    }
    let (head, moves) = movements(&state, &p, from_day, to_day).await?;
    let moves: Vec<Movement> = moves
        .into_iter()
        .filter(|m| matches!(m.account_type, Income | Expense))
        .collect();
    let report = reports::convert(
        &moves,
        &p.book,
        &p.currency,
        &p.base,
        p.mode,
        to_day,
        p.depth,
    )?;
    let to = p.currency.code();
    let net_income = -report.sum_of(&[Income, Expense]);
    let mut rows: Vec<Vec<Value>> = report.lines.iter().map(|l| line_row(l, to)).collect();
    rows.push(summary_row("net income", to, -net_income));
    let mut extra = common(&p, &report.rates);
    extra.insert("from".into(), json!(from_day.to_string()));
    extra.insert("to".into(), json!(to_day.to_string()));
    extra.insert(
        "totals".into(),
        json!({
            "income": money(-report.sum_of(&[Income]), to),
            "expenses": money(report.sum_of(&[Expense]), to),
            "net_income": money(net_income, to),
        }),
    );
    Table {
        ledger: p.ledger,
        head,
        name: "lines",
        columns: LINE_COLUMNS,
        rows,
        extra,
    }
    .respond(&request)
}
