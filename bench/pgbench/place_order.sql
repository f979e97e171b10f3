-- The transaction of POST /orders/ for one item of quantity 1 on PostgreSQL, statement for statement
-- as shop.application.orders.place_order runs it through SqlOrderRepository.add: the order's lock
-- deadline, the products read without a lock, the order's id, then in one pipeline the statement
-- that locks the product, takes its stock and writes the order and its line (see _PLACE_ORDER), the
-- order's outbox event (a body of the size the service writes) and COMMIT.
-- Run with -M prepared (psycopg prepares a statement from its 5th execution on a connection) and
--   -D customer=<user id> -D first=<product id> -D last=<product id>: each transaction orders a
--   random product of [first, last] (first = last: every client on the same, hot, row).
\set pid random(:first, :last)
BEGIN;
SELECT set_config('lock_timeout', '2000ms', true), set_config('statement_timeout', '2000ms', true);
SELECT id, name, price_milli, price_cents, currency, stock, deleted FROM products
  WHERE id IN (:pid) AND NOT deleted \gset product_
SELECT nextval('orders_id_seq') AS id \gset order_
\startpipeline
WITH wanted AS (
    SELECT * FROM unnest(ARRAY[:pid]::int[], ARRAY[1]::int[], ARRAY[:product_name]::text[],
                         ARRAY[:product_price_milli]::bigint[], ARRAY[:product_price_cents]::bigint[],
                         ARRAY[:product_currency]::text[]) WITH ORDINALITY
        AS w (product_id, quantity, name, price_milli, price_cents, currency, line)
), locked AS (
    SELECT id, name, price_milli, currency, stock, deleted FROM products
    WHERE id = ANY(ARRAY[:pid]::int[]) ORDER BY id FOR UPDATE
), taken AS (
    UPDATE products SET stock = products.stock - wanted.quantity
    FROM wanted JOIN locked ON locked.id = wanted.product_id
    WHERE products.id = wanted.product_id AND NOT locked.deleted AND locked.stock >= wanted.quantity
        AND locked.name = wanted.name AND locked.price_milli = wanted.price_milli
        AND locked.currency = wanted.currency
    RETURNING products.id
), placed AS (
    INSERT INTO orders (id, user_id, status, currency, total_milli, total_cents, created_at, updated_at,
                        cancelled_at, fulfilled_at)
    VALUES (:order_id, :customer, 'placed', :product_currency, :product_price_milli, :product_price_cents, now(),
            now(), NULL, NULL)
), lines AS (
    INSERT INTO order_lines (order_id, product_id, name, unit_price_milli, unit_price_cents, quantity)
    SELECT :order_id, product_id, name, price_milli, price_cents, quantity FROM wanted ORDER BY line
)
SELECT shop_order_outdated() WHERE (SELECT count(*) FROM taken) <> 1;
INSERT INTO outbox (event_id, type, aggregate_type, aggregate_id, occurred_at, body)
  VALUES (gen_random_uuid()::text, 'order.placed', 'order', :order_id, now(), repeat('x', 420));
COMMIT;
\endpipeline
