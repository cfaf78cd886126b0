-- Projections of commerce events: products, stock per SKU and warehouse (and bin),
-- orders with their lines, and one row per shipped line for sales reports. Like
-- balances, they are written in the same commit as the events they fold and can be
-- rebuilt from the log.

CREATE TABLE products (
    ledger_id      text    NOT NULL,
    sku            text    NOT NULL,
    name           text    NOT NULL,
    unit           text    NOT NULL,
    quantity_scale integer NOT NULL CHECK (quantity_scale BETWEEN 0 AND 6),
    -- The currency the SKU's stock is valued in: that of its first receipt.
    cost_currency  text,
    registered_seq bigint  NOT NULL,
    PRIMARY KEY (ledger_id, sku)
);

CREATE TABLE stock_levels (
    ledger_id        text    NOT NULL,
    sku              text    NOT NULL,
    warehouse        text    NOT NULL,
    reorder_point    numeric NOT NULL,
    reorder_quantity numeric NOT NULL,
    on_hand          numeric NOT NULL CHECK (on_hand >= 0),
    reserved         numeric NOT NULL CHECK (reserved >= 0),
    -- Sum of what was posted to assets:inventory:{warehouse} for this SKU.
    value            numeric NOT NULL,
    reorder_armed    boolean NOT NULL,
    last_seq         bigint  NOT NULL,
    PRIMARY KEY (ledger_id, sku, warehouse),
    FOREIGN KEY (ledger_id, sku) REFERENCES products (ledger_id, sku)
);
CREATE INDEX stock_levels_by_warehouse ON stock_levels (ledger_id, warehouse, sku);

CREATE TABLE stock_bins (
    ledger_id text    NOT NULL,
    sku       text    NOT NULL,
    warehouse text    NOT NULL,
    -- '' is stock held without a bin.
    location  text    NOT NULL,
    on_hand   numeric NOT NULL CHECK (on_hand >= 0),
    PRIMARY KEY (ledger_id, sku, warehouse, location),
    FOREIGN KEY (ledger_id, sku, warehouse) REFERENCES stock_levels (ledger_id, sku, warehouse)
);

CREATE TABLE orders (
    ledger_id  text        NOT NULL,
    order_id   text        NOT NULL,
    customer   text        NOT NULL,
    channel    text        NOT NULL CHECK (channel IN ('online', 'retail', 'wholesale')),
    currency   text        NOT NULL,
    warehouse  text        NOT NULL,
    total      numeric     NOT NULL,
    captured   numeric     NOT NULL,
    refunded   numeric     NOT NULL,
    cancelled  boolean     NOT NULL,
    status     text        NOT NULL,
    placed_seq bigint      NOT NULL,
    placed_at  timestamptz NOT NULL,
    last_seq   bigint      NOT NULL,
    PRIMARY KEY (ledger_id, order_id)
);
CREATE INDEX orders_by_status ON orders (ledger_id, status, customer);

CREATE TABLE order_lines (
    ledger_id      text    NOT NULL,
    order_id       text    NOT NULL,
    line_no        integer NOT NULL,
    sku            text    NOT NULL,
    quantity       numeric NOT NULL,
    unit_price     numeric NOT NULL,
    amount         numeric NOT NULL,
    shipped        numeric NOT NULL,
    shipped_amount numeric NOT NULL,
    PRIMARY KEY (ledger_id, order_id, line_no),
    FOREIGN KEY (ledger_id, order_id) REFERENCES orders (ledger_id, order_id)
);

-- One row per shipped line: revenue is recognised when goods ship.
CREATE TABLE sales (
    ledger_id text        NOT NULL,
    seq       bigint      NOT NULL,
    line_no   integer     NOT NULL,
    sku       text        NOT NULL,
    order_id  text        NOT NULL,
    customer  text        NOT NULL,
    channel   text        NOT NULL,
    currency  text        NOT NULL,
    quantity  numeric     NOT NULL,
    amount    numeric     NOT NULL,
    sold_on   date        NOT NULL,
    PRIMARY KEY (ledger_id, seq, line_no)
);
CREATE INDEX sales_by_date ON sales (ledger_id, sold_on);

REVOKE ALL ON products, stock_levels, stock_bins, orders, order_lines, sales FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON products, stock_levels, stock_bins, orders, order_lines, sales
    TO chainbook_app;
