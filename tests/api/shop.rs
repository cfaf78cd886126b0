//! Helpers for the commerce tests: a shop ledger and short calls for each operation.

use serde_json::{json, Value};

use crate::helpers::{Reply, TestApp};

/// A ledger `id` (base EUR) and a writer key for it.
pub async fn shop<'a>(app: &'a TestApp, id: &str) -> Shop<'a> {
    let key = app.ledger(id).await;
    Shop {
        app,
        ledger: id.to_owned(),
        key,
    }
}

pub struct Shop<'a> {
    pub app: &'a TestApp,
    pub ledger: String,
    pub key: String,
}

impl Shop<'_> {
    pub fn path(&self, tail: &str) -> String {
        format!("/v1/ledgers/{}{tail}", self.ledger)
    }

    pub async fn post(&self, tail: &str, body: Value) -> Reply {
        self.app.post(&self.key, &self.path(tail), &body).await
    }

    pub async fn get(&self, tail: &str) -> Reply {
        self.app.get(&self.key, &self.path(tail)).await
    }

    /// Registers `sku` in each `(warehouse, reorder point, reorder quantity)`.
    pub async fn product(&self, sku: &str, scale: u32, warehouses: &[(&str, &str, &str)]) {
        let warehouses: Vec<Value> = warehouses
            .iter()
            .map(|(w, point, quantity)| {
                json!({"warehouse": w, "reorder_point": point, "reorder_quantity": quantity})
            })
            .collect();
        let r = self
            .post(
                "/products",
                json!({"sku": sku, "name": sku, "quantity_scale": scale, "warehouses": warehouses}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }

    pub async fn receive(
        &self,
        sku: &str,
        warehouse: &str,
        location: Option<&str>,
        quantity: &str,
        unit_cost: &str,
    ) -> Reply {
        self.post(
            "/stock/receipts",
            json!({"sku": sku, "warehouse": warehouse, "location": location, "quantity": quantity,
                   "unit_cost": unit_cost, "currency": "EUR", "reference": "PO-1"}),
        )
        .await
    }

    pub async fn order(
        &self,
        id: &str,
        customer: &str,
        channel: &str,
        lines: &[(&str, &str, &str)],
    ) -> Reply {
        let lines: Vec<Value> = lines
            .iter()
            .map(|(sku, q, price)| json!({"sku": sku, "quantity": q, "unit_price": price}))
            .collect();
        self.post(
            "/orders",
            json!({"id": id, "customer": customer, "channel": channel, "currency": "EUR",
                   "warehouse": "berlin", "lines": lines}),
        )
        .await
    }

    pub async fn pay(&self, order: &str, action: &str, amount: &str) -> Reply {
        self.post(
            &format!("/orders/{order}/payments"),
            json!({"action": action, "amount": amount, "currency": "EUR"}),
        )
        .await
    }

    pub async fn ship(&self, order: &str, lines: &[(&str, &str)]) -> Reply {
        let lines: Vec<Value> = lines
            .iter()
            .map(|(sku, q)| json!({"sku": sku, "quantity": q}))
            .collect();
        self.post(
            &format!("/orders/{order}/shipments"),
            json!({"lines": lines}),
        )
        .await
    }

    pub async fn cancel(&self, order: &str) -> Reply {
        self.post(
            &format!("/orders/{order}/cancel"),
            json!({"reason": "customer asked"}),
        )
        .await
    }

    /// The inventory row of `sku` in `warehouse`.
    pub async fn stock(&self, sku: &str, warehouse: &str) -> Value {
        let r = self
            .get(&format!("/inventory?sku={sku}&warehouse={warehouse}"))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["inventory"][0].clone()
    }

    pub async fn balance(&self, code: &str) -> String {
        self.app.balance(&self.ledger, code, "EUR").await
    }

    /// Every event of the ledger, parsed.
    pub async fn events(&self) -> Vec<Value> {
        self.app
            .export(&self.ledger)
            .await
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// The postings of an event as `(account, side, amount)`, in order.
pub fn postings(event: &Value) -> Vec<(String, &'static str, String)> {
    event["postings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let (side, amount) = match p.get("debit") {
                Some(a) => ("debit", a),
                None => ("credit", &p["credit"]),
            };
            (
                p["account"].as_str().unwrap().to_owned(),
                side,
                amount.as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// `(account, side, amount)` rows for comparing with `postings`.
pub fn expect(rows: &[(&str, &'static str, &str)]) -> Vec<(String, &'static str, String)> {
    rows.iter()
        .map(|(a, s, m)| (a.to_string(), *s, m.to_string()))
        .collect()
}
