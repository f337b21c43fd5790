-- Routing across hosts (issue 20): where the front gateway reaches each runtime host's
-- gateway (mutual TLS). A host gateway writes its row at start and removes it at stop.
CREATE TABLE host_gateways (
    host        text PRIMARY KEY,
    url         text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
