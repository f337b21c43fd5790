-- Moderation categories follow the new taxonomy (OpenAI's names plus the platform's).
-- Logged verdicts that name a category of the previous taxonomy name the category
-- that took it over (schemas.moderation.LEGACY_NAMES); where two old names become
-- one, the higher score stays. Rows without an old name are left untouched.
WITH renamed AS (
    SELECT entry.id,
           jsonb_object_agg(per_name.name, per_name.score) AS categories
    FROM moderation_log AS entry
    CROSS JOIN LATERAL (
        SELECT CASE old.key
                   WHEN 'self_harm' THEN 'self-harm'
                   WHEN 'prompt_injection' THEN 'prompt-injection'
                   WHEN 'stalking' THEN 'surveillance'
                   WHEN 'cryptomining' THEN 'malware'
                   WHEN 'ddos' THEN 'illicit'
                   ELSE old.key
               END AS name,
               max(old.value::numeric) AS score
        FROM jsonb_each(entry.categories) AS old
        GROUP BY 1
    ) AS per_name
    WHERE entry.categories ?| ARRAY['self_harm', 'prompt_injection', 'stalking', 'cryptomining', 'ddos']
    GROUP BY entry.id
)
UPDATE moderation_log
SET categories = renamed.categories
FROM renamed
WHERE moderation_log.id = renamed.id;
