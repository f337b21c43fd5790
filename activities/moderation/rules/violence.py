"""Violence: glorifying, inciting or organising real violence against people or animals
(``violence``, blocked) and graphic depictions of death and injury for their own sake
(``violence/graphic``, sent to review).

Its vocabularies (``TERMS``), the rules that weigh them (``RULES``) and the benign
contexts that lower its score (``CONTEXTS``); see the package docstring for how
they combine.
"""

from __future__ import annotations

from typing import Final

from activities.moderation.rules.helpers import (
    Context,
    Rule,
    any_of,
    near,
)
from schemas.moderation import ModerationCategory

VIOLENCE: Final = ModerationCategory.VIOLENCE
VIOLENCE_GRAPHIC: Final = ModerationCategory.VIOLENCE_GRAPHIC

TERMS: Final[dict[str, str]] = {
    "assault": any_of(
        r"attack\w*",
        r"beat(?:s|ing)? (?:\S+ ){0,2}up",
        r"beat(?:ing|en)? (?:\S+ )?(?:to death|senseless)",
        r"assassinat\w*",
        r"ambush\w*",
        r"stab\w*",
        r"shoot\w* up",
        r"gang(?:s|ing)? up on",
        r"punch\w*",
        r"knock\w* out",
        r"kill(?:s|ing|ed)?",
        r"murder\w*",
        r"tortur\w*",
        r"maim\w*",
        r"rams? (?:\S+ ){0,2}into",
        r"ramming",
        r"bomb(?:s|ing|ings)?",
        r"massacr\w*",
        r"lynch\w*",
        r"choke\w*",
        r"strangl\w*",
        r"hurt\w*",
        r"riot\w*",
        r"brutal\w*",
        r"beatings?",
        r"break\w* (?:\S+ ){0,2}(?:legs?|arms?|bones?|kneecaps?|jaws?|necks?)",
        r"kneecap\w*",
    ),
    "human_target": any_of(
        r"(?:random |innocent |homeless |lone |unsuspecting )?(?:people|persons|strangers"
        r"|passers?[\s-]?by|pedestrians|joggers?|women|men|girls|boys|kids|children|students"
        r"|classmates|teachers|nurses|doctors|victims?|crowds?|worshippers|shoppers|fans)",
        r"(?:police|cops|officers|guards|soldiers|politicians?|senators?|judges?|journalists"
        r"|reporters|ceos?|executives|bosses|mayor|president|governor|immigrants|muslims|jews"
        r"|christians)",
        r"the (?:ceo|mayor|president|governor|senator|judge|principal)",
        r"(?:each other|one another|someone|somebody|anyone|a chosen victim)",
        r"(?:every|each|any) (?:\S+ )?(?:muslim|jew|christian|immigrant|refugee|migrant|gay"
        r"|black|asian|person|woman|man|cop|officer|stranger|one)",
        r"(?:schools?|stadiums?|parades?|courthouses?|concerts?|malls?|churches|mosques"
        r"|synagogues|subway|station|festival|campus)",
        r"(?:homeless|animals?|dogs?|cats?|pets?)",
        r"(?:the )?(?:referees?|umpires?|debtors?|rivals?|players?|witness(?:es)?)",
        r"people who owe",
    ),
    "glorify": any_of(
        r"glorif\w*",
        r"celebrat\w*",
        r"prais\w*",
        r"heroe?s?",
        r"(?:to|for others to|so others|others can) copy",
        r"copycats?",
        r"encourag\w*",
        r"incit\w*",
        r"urg\w*",
        r"call(?:s|ing)? for more",
        r"recruit\w*",
        r"propaganda",
        r"pa(?:y|ys|ying|id) (?:\S+ )?(?:users|people|members|viewers)? ?(?:for|to)",
        r"bount(?:y|ies)",
        r"bett\w*",
        r"bets?",
        r"wager\w*",
        r"upvot\w*",
        r"ranks? (?:\S+ ){0,3}by",
        r"(?:post\w*|shar\w*|upload\w*) (?:\S+ ){0,2}(?:videos?|clips?|footage|photos?) of",
        r"(?:photos?|videos?|clips?|footage) of (?:their|his|her|the) (?:killings?|attacks?"
        r"|murders?|beatings?)",
        r"live (?:videos?|streams?|feeds?)",
        r"reward\w*",
        r"points? (?:for|double)",
        r"scoreboards?",
        r"leaderboards?",
        r"vote (?:\S+ ){0,2}(?:on )?(?:which|who)",
        r"bring weapons",
        r"plan\w* (?:\S+ ){0,2}(?:attacks?|ambush\w*|to (?:attack|kill|hurt|beat|bomb|stab))",
        r"organi[sz]\w* (?:\S+ ){0,2}(?:attacks?|riots?|raids?|fights?|mobs?|to (?:attack|beat"
        r"|kill|hurt))",
        r"(?:coordinat|organi[sz]|plan)\w* (?:\S+ ){0,2}(?:attacks?|riots?|beatings?|assaults?"
        r"|fights?|hits?|killings?|to (?:attack|beat|kill))",
        r"matches (?:\S+ ){0,2}to",
        r"find (?:\S+ ){0,3}to attack",
        r"(?:so|where|and) (?:we|they|people|members|teens|viewers) can",
        r"dar(?:e|es|ing) (?:\S+ )?(?:kids|people|teens)",
        r"challenge",
        r"livestream\w*",
        r"(?:videos?|clips?) of (?:\S+ ){0,2}(?:themselves|them|people)",
        r"with (?:his|her|their) (?:schedule|address|routes?)",
        r"teach\w* (?:\S+ ){0,2}(?:techniques|how)",
        r"(?:the )?cruelest",
        r"more brutal",
        r"(?:a|the) real attack",
    ),
    "atrocity": any_of(
        r"mass (?:shoot\w*|murder\w*|killings?|stabbings?)",
        r"(?:school|church|mosque|synagogue|concert|mall) (?:shoot\w*|massacre|attack|bombing)s?",
        r"kill counts?",
        r"terror(?:ist)? (?:attacks?|group|organi[sz]ations?|cells?|bombings?)",
        r"(?:oklahoma city|christchurch|columbine|parkland|uvalde|sandy hook|utoya|9/11)"
        r" (?:bombing|shooting|attacks?|shooter|massacre)",
        r"(?:shooter|bomber|killer)s?'?",
        r"animal (?:torture|cruelty|abuse)",
        r"knockout game",
        r"(?:street|real) fights?",
        r"fight club",
        r"(?:dog|cock|animal)[\s-]?fight\w*",
        r"bear[\s-]baiting",
        r"(?:hit|death|kill) squads?",
        r"hitm[ae]n",
        r"contract killings?",
        r"murder[\s-]for[\s-]hire",
        r"cartel (?:\S+ )?(?:squads?|killers|killings|sicarios|enforcers)",
    ),
    "gore": any_of(
        r"gor(?:e|ey|y|iest)",
        r"uncensored (?:\S+ ){0,2}(?:videos?|footage|photos?|pics|deaths?|war|crashes?|injur\w*)",
        r"graphic (?:\S+ )?(?:injur\w*|accidents?|photos?|pictures?|videos?|footage|deaths?"
        r"|wounds?|violence)",
        r"(?:real|actual) (?:\S+ )?(?:death|deaths|dying|murders?|suicides?|executions?|killings?)"
        r" (?:\S+ )?(?:videos?|footage|photos?|pics|clips?)",
        r"(?:people|someone|humans|animals) (?:\S+ )?dying",
        r"(?:behead\w*|decapitat\w*|execution) (?:\S+ )?(?:videos?|footage|clips?|photos?)",
        r"beheading\w*",
        r"mutilat\w*",
        r"dismember\w*",
        r"dead bodies",
        r"corpses?",
        r"crime scene (?:photos?|pictures?|pics)",
        r"autopsy (?:photos?|pictures?|pics|videos?)",
        r"(?:crash|accident) victims?",
        r"slaughter\w* (?:\S+ ){0,3}(?:slow motion|videos?|footage|no warnings?)",
        r"(?:blood|bloody|bleeding) (?:\S+ ){0,2}(?:injur\w*|wounds?|photos?|pics|videos?"
        r"|surger\w*|shown|bodies)",
        r"blood and injuries",
        r"shock (?:sites?|videos?|content)",
        r"faces of death",
        r"death (?:videos?|footage|clips?)",
        r"suicide (?:footage|videos?)",
        r"no blur",
        r"full res\w*",
        r"(?:real )?wounds and (?:deformities|injuries)",
        r"dog ?fights?",
    ),
    "ctx_violence_benign": any_of(
        r"prevent\w*",
        r"self[\s-]?defen[cs]e",
        r"preparedness",
        r"memorial (?:\S+ ){0,2}for the victims",
        r"(?:victims|survivors) of",
        r"history",
        r"historical",
        r"news (?:archive|articles?)",
        r"school project",
        r"true crime",
        r"(?:video |browser |board )?games? (?:with|about|where you fight) (?:zombies|aliens"
        r"|robots|monsters|orcs|dragons)",
        r"zombies?",
        r"boxing",
        r"martial arts",
        r"mma",
        r"kickboxing",
        r"paintball",
        r"hunting",
        r"(?:medical|nursing) students",
        r"surgical training",
        r"content warnings?",
        r"special effects",
        r"(?:sfx )?makeup",
        r"fake (?:wounds|blood)",
        r"first aid",
        r"forensic\w*",
        r"insurance claims?",
        r"road safety",
        r"statistics",
        r"reviews? blog",
        r"horror (?:movie|film|short story|story|novel|writing|contest)",
        r"short story contest",
        r"(?:exhibition|documentary|museum)",
        r"films?",
        r"movies?",
        r"civil rights",
        r"veterinar\w*",
        r"butcher\w*",
        r"cuts of meat",
        r"wildlife",
        r"anatomy",
    ),
}

RULES: Final[tuple[Rule, ...]] = (
    near(VIOLENCE, 0.45, "violence against people", "assault", "human_target", window=50),
    near(
        VIOLENCE,
        0.55,
        "incites, organises or rewards violence",
        "assault",
        "human_target",
        "glorify",
        window=100,
        severe=True,
    ),
    near(VIOLENCE, 0.45, "names a real atrocity", "atrocity"),
    near(
        VIOLENCE,
        0.55,
        "glorifies or organises an atrocity",
        "atrocity",
        "glorify",
        window=100,
        severe=True,
    ),
    near(VIOLENCE_GRAPHIC, 0.60, "graphic death or injury", "gore"),
)

CONTEXTS: Final[tuple[Context, ...]] = (
    Context(
        frozenset({VIOLENCE, VIOLENCE_GRAPHIC}),
        0.40,
        "prevention, history, sport, fiction, medicine or training",
        "ctx_violence_benign",
    ),
)
