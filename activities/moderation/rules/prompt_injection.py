"""Prompt injection aimed at the platform: overrides, its secrets, sandbox and network.

Its vocabularies (``TERMS``), the rules that weigh them (``RULES``) and the benign
contexts that lower its score (``CONTEXTS``); see the package docstring for how
they combine.
"""

from __future__ import annotations

from typing import Final

from activities.moderation.rules.helpers import (
    EDUCATION,
    Context,
    Rule,
    any_of,
    near,
)
from schemas.moderation import ModerationCategory

PROMPT_INJECTION: Final = ModerationCategory.PROMPT_INJECTION

TERMS: Final[dict[str, str]] = {
    "override": any_of(
        r"(?:ignor|disregard|forget|overrid|bypass|skip|drop|abandon|discard)\w* (?:\S+ ){0,2}"
        r"(?:previous|prior|above|earlier|preceding|former|original|initial|system|developer|your"
        r"|its"
        r"|all (?:the |your |of the |of your )?(?:previous |prior )?|any (?:previous |prior )?)"
        r" ?(?:\S+ )?(?:instructions?|prompts?|rules|directions|guidelines|guardrails|constraints"
        r"|polic(?:y|ies)|restrictions|directives|programming|safety (?:rules|guidelines|filters?)"
        r"|content polic(?:y|ies)|messages?|context)",
        r"(?:change|modify|rewrite|update|edit)\w* (?:your|its) (?:own )?(?:instructions|rules"
        r"|system prompt|guidelines|programming)",
        r"(?:ignor|disregard|forget)\w* (?:all |everything )?(?:the |that )?(?:above|before this"
        r"|you were told|you have been told)",
        r"(?:don'?t|do not|no longer) (?:have to |need to )?follow (?:\S+ ){0,2}(?:moderation"
        r"|rules|guidelines|polic(?:y|ies)|instructions|safety)",
        r"(?:ignor|disregard|forget|drop|abandon)\w* (?:\S+ ){0,2}(?:safety|moderation|the rules"
        r"|your rules|content polic(?:y|ies)|(?:moderation|safety|content) (?:polic(?:y|ies)|rules"
        r"|filters?|checks?|guidelines)|guardrails|restrictions)",
    ),
    "new_instructions": any_of(
        r"new (?:system )?instructions ?:",
        r"(?:your )?new (?:task|role|objective|instructions?) ?:",
        r"you are (?:now )?(?:an? )?(?:\S+ )?(?:dan|unrestricted|unfiltered|jailbroken|uncensored)"
        r" (?:model|ai|assistant|bot|llm)",
        r"system ?(?:prompt|message|override) ?:",
        r"you are (?:now |no longer )(?:\S+ ){0,2}(?:dan|unrestricted|unfiltered|jailbroken"
        r"|uncensored|in developer mode|free of|without (?:rules|restrictions|filters))",
        r"you are (?:dan|unrestricted|unfiltered|jailbroken|uncensored|in developer mode)",
        r"you are now (?:root|admin\w*|sudo|the system|the developer)",
        r"developer mode (?:enabled|on|activated)",
        r"do anything now",
        r"(?:act|behave|respond) as (?:if you (?:have|had) no|an? unrestricted|an? unfiltered|dan"
        r"|root|the system|the (?:admin|administrator|developer))",
        r"pretend\w* (?:to be|you are|you'?re) (?:the |an? )?(?:admin\w*|developer|system|root"
        r"|platform owner|operator)",
        r"pretend (?:that )?(?:you (?:have|had)|there (?:are|is|were)) no (?:rules|restrictions"
        r"|filters|guidelines|limits)",
        r"(?:you are|you'?re) (?:now )?(?:\S+ ){0,2}(?:without|with no|free (?:of|from))"
        r" (?:any )?(?:rules|restrictions|filters|limits|guidelines|censorship)",
    ),
    "jailbreak": any_of(r"jailbreak\w*", r"dan mode", r"developer mode"),
    "role_dialogue": r"\bassistant ?: .{0,200}\buser ?:",
    "role_marker": (
        r"(?:<\|im_start\|>|<\|im_end\|>|<\|system\|>|<\|endoftext\|>|\[/?inst\]|\[/?system\]"
        r"|</?system>|<<sys>>|###\s*(?:system|instructions?)\b)"
    ),
    "reveal_strong": any_of(
        r"(?:reveal|print|show|output|repeat|leak|dump|display|echo|return|give|tell|disclose"
        r"|share|expose|send|write out|spell out|what (?:is|are|was|were))\w* (?:me )?"
        r"(?:your|you were given|(?:microbuilder|this (?:ai|assistant|model|builder|generator"
        r"|platform)|the (?:platform|builder|generator|assistant|model|ai|llm))'?s?) (?:\S+ )?"
        r"(?:system (?:prompt|message|instructions?)|(?:initial|original|hidden|secret|internal"
        r"|pre-?|meta-?)prompts?|(?:initial|original|hidden|secret|internal) (?:instructions?"
        r"|rules|prompt)|developer (?:message|instructions?)|instructions)",
    ),
    "reveal_verbatim": any_of(
        r"(?:output|print|repeat|show|reveal|echo|dump|return)\w* (?:\S+ ){0,2}"
        r"(?:everything|all|the text|(?:the )?(?:hidden |secret |system )?instructions|the prompt"
        r"|the messages?) (?:\S+ )?(?:above|before) (?:this|here|the first|my)",
        r"(?:reveal|print|show|output|repeat|leak|dump|display|give|tell|share)\w* (?:me )?"
        r"(?:the )?(?:prompt|instructions|rules|system message) (?:that )?(?:the |this )?"
        r"(?:builder|platform|generator|assistant|model|ai|you) (?:was|were|got|received|has|have)",
        r"(?:output|print|show|dump|reveal|repeat)\w* (?:\S+ ){0,3}(?:your|the) (?:context window"
        r"|hidden context|pre-?prompt|initial context)",
        r"what (?:secrets|keys|tokens|credentials|env\w*|passwords) (?:can|do) you (?:see|have"
        r"|access|know)",
        r"what (?:did|do|have) (?:the |your )?(?:developers?|creators?|makers?|admins?|platform"
        r"|builder|operators?) (?:tell|told|instruct\w*|program\w*) you",
        r"(?:repeat|print|output|show|reveal|give|tell|display|write)\w* (?:\S+ ){0,6}(?:verbatim"
        r"|word for word|exactly as"
        r" (?:written|given))",
        r"(?:repeat|print|output|show|reveal|echo|dump|return|copy)\w* (?:\S+ ){0,3}(?:text|words"
        r"|everything|instructions|prompt|messages?|content) (?:\S+ )?(?:above|before (?:this|my))",
        r"what (?:instructions|rules|prompts?|system prompt|guidelines) (?:\S+ ){0,2}(?:got|get"
        r"|received|receives|were given|was given|have|has|had) (?:\S+ ){0,2}(?:before|above"
        r"|prior to)",
    ),
    "reveal_weak": any_of(
        r"(?:reveal|leak|dump|print|repeat|disclose|output)\w* (?:\S+ )?(?:system prompts?"
        r"|initial prompts?|hidden prompts?)",
        r"what (?:were|was|are|have) you (?:been )?(?:told|instructed|given|programmed)",
        r"what model are you",
    ),
    "secret_path": (
        r"(?:/etc/(?:passwd|shadow|sudoers)|/proc/(?:self|\d+)/(?:environ|cmdline|mem|maps|root)"
        r"|~/\.ssh|\.ssh/|\bid_rsa\b|\bid_ed25519\b|\bauthorized_keys\b|/var/run/secrets"
        r"|/run/secrets|\bdocker\.sock\b|\bkubeconfig\b|\.aws/credentials|\.git-credentials"
        r"|\.netrc\b|169\.254\.169\.254|metadata\.google\.internal|\bmb_\w*|(?<![\w.])/root\b)"
    ),
    "access": any_of(
        r"read\w*",
        r"print\w*",
        r"dump\w*",
        r"cats?",
        r"export\w*",
        r"output\w*",
        r"show\w*",
        r"list\w*",
        r"display\w*",
        r"leak\w*",
        r"exfiltrat\w*",
        r"send\w*",
        r"upload\w*",
        r"post\w*",
        r"cop(?:y|ies|ying)",
        r"steal\w*",
        r"expos\w*",
        r"return\w*",
        r"includ\w*",
        r"embed\w*",
        r"log",
        r"logs",
        r"e-?mail\w*",
        r"extract\w*",
        r"grab\w*",
        r"access\w*",
        r"fetch\w*",
        r"retriev\w*",
        r"obtain\w*",
        r"reveal\w*",
        r"get",
        r"give",
    ),
    "env_secrets": any_of(
        r"environment variables?",
        r"env(?:ironment)? vars?",
        r"\.env",
        r"os\.environ",
        r"process\.env",
        r"printenv",
        r"secrets?",
        r"api[\s_-]?keys?",
        r"access (?:keys?|tokens?)",
        r"secret[\s_-]?(?:keys?|tokens?)",
        r"[a-z0-9]+_(?:key|token|secret|password)s?",
        r"tokens?",
        r"credentials?",
        r"private keys?",
        r"ssh keys?",
        r"signing keys?",
        r"encryption keys?",
        r"master (?:keys?|passwords?)",
        r"service account",
        r"database (?:url|password|credentials)",
        r"connection strings?",
        r"openai[\s_-]?api[\s_-]?key",
        r"aws[\s_-]?(?:secret|access)\w*",
        r"keys",
    ),
    "platform": any_of(
        r"(?:the |your )?(?:build|builder|ci|host|hosting|deploy(?:ment)?|worker|generation"
        r"|generator|pipeline|platform|orchestrat\w*)(?:'?s)? (?:tokens?|credentials|servers?"
        r"|machines?|hosts?"
        r"|environment|containers?|workers?|system|infrastructure|nodes?|boxes|vms?|runners?"
        r"|secrets|keys|process)",
        r"(?:the )?host (?:machine|system|os|filesystem|file system|environment|network)",
        r"microbuilder\w*",
        r"this (?:platform|service|builder|generator|server)",
        r"your (?:own )?(?:servers?|environment|system|machine|infrastructure|secrets|keys"
        r"|api keys|credentials|config\w*|env\w*|variables|source code|backend|database|host)",
        r"(?:the )?underlying (?:server|machine|host|system|infrastructure)",
        r"(?:the )?(?:server|machine|host|worker|container) (?:that|which) (?:builds|runs|hosts"
        r"|deploys|generates)",
        r"(?:the )?(?:machine|server|host) (?:it(?:'s| is)|the app is|this is) (?:built|running"
        r"|deployed|hosted) on",
        r"(?:the )?build server'?s?",
        r"(?:the )?platform'?s?",
        r"the (?:builder|generator|worker|host|ci|deployer)'s",
        r"outside (?:the|of the|its) (?:sandbox|container)",
        r"temporal (?:server|history|workers?)",
    ),
    "exfil_strong": any_of(r"exfiltrat\w*", r"smuggl\w*", r"siphon\w*"),
    "sandbox_escape": any_of(
        r"(?:disabl|escap|break\w* out|bypass|turn\w* off|get\w* out|circumvent|evad|weaken"
        r"|defeat|switch\w* off|deactivat|break)\w* (?:\S+ ){0,2}(?:sandbox\w*|isolation"
        r"|seccomp|apparmor|selinux|bubblewrap|bwrap|namespaces?|chroot|jail"
        r"|network (?:restrictions|isolation|filter\w*|policy)|egress (?:restrictions|filter\w*"
        r"|rules|block\w*))",
        r"(?:escap|break\w* out)\w* (?:\S+ ){0,2}(?:containers?|docker|vm)",
        r"container (?:escape|breakout)",
        r"sandbox[\s-]?(?:escape|breakout|break)",
        r"jail[\s-]?(?:escape|breakout)",
        r"(?:out of|from inside|outside) the sandbox",
        r"(?:write|modify|edit|delete|change)\w* (?:\S+ ){0,4}(?:on|in|to) the (?:host|build server"
        r"|worker)(?: machine)?",
        r"persist\w* (?:\S+ ){0,4}(?:on|in) the (?:host|worker|build (?:server|worker))",
    ),
    "disable_safety": any_of(
        r"(?:disabl|bypass|skip|turn\w* off|evad|circumvent|avoid|get\w* around|defeat)\w*"
        r" (?:\S+ ){0,2}(?:moderation|content (?:filter\w*|moderation|polic\w*)|safety (?:filters?"
        r"|checks?|guardrails?)|guardrails|security (?:checks?|scans?|gates?|review)|qa (?:gate"
        r"|checks?)|bandit|static analysis|review process)",
    ),
    "self_approve": any_of(
        r"(?:auto-?approve|approve|whitelist|allowlist|exempt)\w* (?:\S+ ){0,4}(?:deploy\w*|apps?"
        r"|prompts?|accounts?|requests?|builds?) (?:\S+ ){0,4}(?:moderation|review|qa|checks?)",
        r"(?:auto-?approve|approve)\w* (?:this|my) (?:deploy\w*|app|prompt|build|request)",
        r"(?:always|automatically) approve",
        r"mark\w* (?:\S+ ){0,2}as (?:reviewed|approved|safe|passed)",
        r"(?:moderation|safety|content filter\w*|qa)\w* (?:is |are )?(?:now )?(?:disabled|off"
        r"|turned"
        r" off|bypassed|not needed)",
        r"skip\w* moderation",
    ),
    "gate_tamper": any_of(
        r"make (?:the )?(?:qa|quality|security) (?:gate|checks?|scans?) pass",
        r"skip\w* (?:\S+ ){0,3}(?:mutation tests?|fuzz\w*|security scans?|bandit|static analysis"
        r"|dependency (?:scan\w*|checks?)|qa|tests? x3)",
        r"(?:fake|forge|spoof)\w* (?:\S+ ){0,2}(?:qa|test|gate|scan) (?:results?|reports?"
        r"|evidence)",
        r"mark\w* (?:\S+ ){0,2}(?:tests?|checks?|scans?) as pass\w*",
    ),
    "infra": any_of(
        r"other (?:tenants?'?|customers?'? (?:apps?|containers?|data|deployments?|code|files"
        r"|projects?|secrets|databases?)|users?'? (?:apps?|containers?|data|deployments?|code"
        r"|files|projects?|secrets|databases?)|containers?|apps? on (?:the|this) (?:host|server"
        r"|platform))",
        r"(?:the )?shared (?:volumes?|disks?|storage|filesystem)",
        r"other apps?'? (?:databases?|data|files|code|secrets|containers?)",
        r"on the same (?:server|host|machine|cluster|node)",
        r"host network",
        r"(?:the )?host'?s? (?:network|ports?|services|filesystem|processes)",
        r"(?:files|processes|directories) on the (?:host|build server|worker)",
        r"cloud metadata",
        r"metadata (?:service|endpoint|server|api)",
        r"instance metadata",
        r"169\.254\.\d{1,3}\.\d{1,3}",
    ),
    "internal_net": any_of(
        r"internal (?:network|services?|apis?|endpoints?|hosts?|ips?|dns|databases?|db"
        r"|dashboards?|systems?|admin (?:panels?|interfaces?|consoles?|pages?))",
        r"intranet",
        r"private (?:network|subnet|ip ranges?)",
        r"10\.\d{1,3}\.\d{1,3}\.\d{1,3}",
        r"192\.168\.\d{1,3}\.\d{1,3}",
        r"172\.(?:1[6-9]|2\d|3[01])\.\d{1,3}\.\d{1,3}",
        r"docker (?:socket|daemon|api)",
        r"kubernetes api",
        r"kube[\s-]?api\w*",
        r"lan",
        r"local (?:network|subnet)",
    ),
    "net_verb": any_of(
        r"connect\w*",
        r"reach\w*",
        r"access\w*",
        r"scan\w*",
        r"prob(?:e|es|ing)",
        r"talk\w* to",
        r"call\w*",
        r"request\w*",
        r"fetch\w*",
        r"curl",
        r"proxy\w*",
        r"pivot\w*",
        r"tunnel\w*",
        r"enumerat\w*",
        r"quer(?:y|ies|ying)",
        r"hit",
        r"ping\w*",
        r"open\w* (?:a )?(?:sockets?|connections?) to",
        r"expos\w*",
        r"bind\w*",
        r"forward\w*",
        r"manag\w* the host",
        r"mount\w*",
        r"send\w* (?:\S+ ){0,2}to",
    ),
    "exec_cmd": any_of(
        r"(?:run|runs|running|execut\w*|spawn\w*) (?:any |arbitrary )?(?:shell )?(?:commands?"
        r"|whoami|bash|sh|code)",
    ),
    "dump_env": any_of(
        r"(?:all|every|the whole|entire|each) (?:the |of the )?(?:environment variables?|env vars?"
        r"|env)",
        r"printenv",
        r"os\.environ",
        r"process\.env",
    ),
    "scan_net": any_of(
        r"(?:port[\s-]?)?scan\w* (?:\S+ ){0,2}(?:networks?|subnets?|ports|ip ranges?)",
        r"nmap",
        r"masscan",
        r"port[\s-]?scan\w*",
        r"(?:every|all) (?:the )?hosts? (?:on|in)",
        r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}/\d{1,2}",
    ),
    "generated_app": any_of(
        r"(?:the |this |each |every )?generated (?:app|application|code|site|service|program)s?",
        r"the app (?:itself|you (?:generate|build|make))",
    ),
    "ctx_injection_defence": any_of(
        r"detect(?:s|ing|or|ors)?",
        r"classif(?:y|ier|iers|ies)",
        r"(?:prompt[\s-]injection|jailbreak) (?:filter\w*|scanner|guard\w*|detect\w*|defen[cs]e)",
        r"defen[cs]\w*",
        r"protect\w* (?:\S+ ){0,2}against",
        r"guard\w* against",
        r"red[\s-]?team\w* (?:my|our) own",
        r"(?:my|our) own (?:chatbot|llm|bot|model|assistant|agent)",
        r"(?:my|our) (?:own|home|local) (?:\S+ )?(?:network|lab|servers?|devices?|router)",
        EDUCATION,
        r"explain\w*",
        r"ctf",
        r"capture the flag",
    ),
}

RULES: Final[tuple[Rule, ...]] = (
    near(PROMPT_INJECTION, 0.85, "instruction override", "override", severe=True),
    near(PROMPT_INJECTION, 0.75, "role or instruction hijack", "new_instructions", severe=True),
    near(PROMPT_INJECTION, 0.35, "jailbreak wording", "jailbreak"),
    near(PROMPT_INJECTION, 0.60, "chat-template role markers", "role_marker"),
    near(PROMPT_INJECTION, 0.85, "asks for the platform's prompt", "reveal_strong", severe=True),
    near(PROMPT_INJECTION, 0.45, "asks for a system prompt", "reveal_weak"),
    near(PROMPT_INJECTION, 0.80, "asks to repeat hidden context", "reveal_verbatim", severe=True),
    near(PROMPT_INJECTION, 0.55, "names host secrets or system files", "secret_path"),
    near(
        PROMPT_INJECTION,
        0.60,
        "reads host secrets or system files",
        "access",
        "secret_path",
        window=60,
        severe=True,
    ),
    near(
        PROMPT_INJECTION,
        0.80,
        "reads the platform's secrets",
        "access",
        "env_secrets",
        "platform",
        window=100,
        severe=True,
    ),
    near(
        PROMPT_INJECTION,
        0.80,
        "exfiltrates secrets",
        "exfil_strong",
        "env_secrets",
        window=60,
        severe=True,
    ),
    near(PROMPT_INJECTION, 0.85, "sandbox escape", "sandbox_escape", severe=True),
    near(
        PROMPT_INJECTION,
        0.80,
        "runs commands on the platform",
        "exec_cmd",
        "platform",
        window=80,
        severe=True,
    ),
    near(PROMPT_INJECTION, 0.45, "disables platform safety checks", "disable_safety"),
    near(PROMPT_INJECTION, 0.60, "tampers with the QA gate", "gate_tamper"),
    near(PROMPT_INJECTION, 0.80, "approves itself past moderation", "self_approve", severe=True),
    near(PROMPT_INJECTION, 0.75, "a forged assistant turn", "role_dialogue", severe=True),
    near(PROMPT_INJECTION, 0.45, "dumps every environment variable", "access", "dump_env"),
    near(
        PROMPT_INJECTION, 0.55, "sends secrets to a third party", "exfil", "env_secrets", window=60
    ),
    near(PROMPT_INJECTION, 0.50, "scans networks", "scan_net"),
    near(
        PROMPT_INJECTION,
        0.85,
        "reaches platform infrastructure",
        "net_verb",
        "infra",
        window=60,
        severe=True,
    ),
    near(
        PROMPT_INJECTION, 0.60, "reaches an internal network", "net_verb", "internal_net", window=60
    ),
    near(
        PROMPT_INJECTION,
        0.80,
        "reads secrets on an internal network",
        "access",
        "env_secrets",
        "internal_net",
        window=80,
        severe=True,
    ),
    near(
        PROMPT_INJECTION,
        0.80,
        "reads other tenants' data or the host's",
        "access",
        "infra",
        window=60,
        severe=True,
    ),
    near(
        PROMPT_INJECTION,
        0.50,
        "generated app aimed at internal network",
        "generated_app",
        "internal_net",
    ),
)

CONTEXTS: Final[tuple[Context, ...]] = (
    Context(
        frozenset({PROMPT_INJECTION}),
        0.50,
        "injection defence or teaching",
        "ctx_injection_defence",
    ),
)
