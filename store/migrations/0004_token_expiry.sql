-- API tokens may expire (operators' tokens for the codec server, short-lived ones).
ALTER TABLE api_tokens ADD COLUMN expires_at timestamptz;
