-- The transaction of POST /orders/ for one item of quantity 1, statement for statement as
-- shop.application.orders.place_order runs it on SqlProductRepository and SqlOrderRepository:
-- lock the product, write it back with its new stock, insert the order, its line and its outbox event
-- (a body of the size the service writes).
-- Run with -M prepared (psycopg prepares a statement from its 5th execution on a connection) and
--   -D customer=<user id> -D first=<product id> -D last=<product id>: each transaction orders a
--   random product of [first, last] (first = last: every client on the same, hot, row).
\set pid random(:first, :last)
BEGIN;
SELECT id, name, price_cents, currency, stock, deleted FROM products
  WHERE id IN (:pid) AND NOT deleted ORDER BY id FOR UPDATE \gset product_
\set stock :product_stock - 1
UPDATE products SET name = :product_name, price_cents = :product_price_cents, currency = :product_currency,
  stock = :stock, deleted = :product_deleted WHERE id = :pid;
INSERT INTO orders (user_id, status, currency, created_at, updated_at, cancelled_at, fulfilled_at)
  VALUES (:customer, 'placed', :product_currency, now(), now(), NULL, NULL) RETURNING id \gset order_
INSERT INTO order_lines (order_id, product_id, name, unit_price_cents, quantity)
  VALUES (:order_id, :pid, :product_name, :product_price_cents, 1) RETURNING id;
INSERT INTO outbox (event_id, type, aggregate_type, aggregate_id, occurred_at, body)
  VALUES (gen_random_uuid()::text, 'order.placed', 'order', :order_id, now(),
          repeat('x', 420));
COMMIT;
