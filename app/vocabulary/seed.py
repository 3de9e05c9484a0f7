"""The starter vocabulary: activity categories in community language, needs in health
language, synonyms from both sectors, and which categories help with which needs.

``signpost seed-vocabulary`` loads it into any database (idempotent); the demo uses it too.
"""

from sqlmodel import Session, select

from app.vocabulary import snapshot
from app.vocabulary.models import NeedCategory, Taxonomy, TaxonomyTerm, TermSynonym

# code: (name, synonyms, parent code)
CATEGORIES: dict[str, tuple[str, list[str], str | None]] = {
    "arts-and-crafts": ("Arts and crafts", ["art", "crafts", "painting", "drawing", "knitting", "pottery"], None),
    "music-and-singing": ("Choirs and music", ["choir", "singing", "music", "band", "ukulele"], None),
    "theatre-and-drama": ("Theatre and drama", ["drama", "acting", "theatre", "performance"], None),
    "heritage-and-museums": ("Heritage and museums", ["museum", "history", "heritage", "archives"], None),
    "library-programmes": ("Library programmes", ["library", "reading group", "book club", "reading"], None),
    "gardening-and-nature": ("Gardening and nature", ["gardening", "allotment", "green space", "nature", "conservation", "outdoors"], None),
    "walking-and-physical-activity": ("Walking and physical activity", ["walking group", "walks", "exercise", "sport", "yoga", "tai chi", "dance", "fitness"], None),
    "mens-sheds": ("Men's sheds", ["men's shed", "woodwork", "diy", "making and mending"], None),
    "befriending": ("Befriending", ["befriender", "friendship", "home visits", "telephone friendship"], None),
    "peer-support": ("Peer support", ["support group", "peer group", "mutual aid", "lived experience"], None),
    "postnatal-groups": ("Postnatal and parent groups", ["postnatal", "new parents", "baby group", "parent and toddler"], None),
    "volunteering": ("Volunteering", ["volunteer", "giving back", "helping others"], None),
    "advice": ("Advice", ["advice", "information and advice"], None),
    "debt-advice": ("Debt and money advice", ["debt", "money advice", "budgeting"], "advice"),
    "benefits-advice": ("Benefits advice", ["benefits", "universal credit", "welfare rights", "pip"], "advice"),
    "housing-advice": ("Housing advice", ["housing", "tenancy", "eviction", "homelessness"], "advice"),
    "carers-groups": ("Carers' groups", ["carers", "unpaid carer", "caring for someone"], None),
    "community-meals": ("Lunch clubs and community meals", ["lunch club", "community meal", "cooking", "food"], None),
    "learning-and-digital": ("Learning and digital skills", ["computer class", "digital skills", "esol", "english class"], None),
}

# code: (name, synonyms, categories that help)
NEEDS: dict[str, tuple[str, list[str], list[str]]] = {
    "low-mood": ("Low mood", ["depression", "feeling down", "feeling low", "sad", "unhappy"],
                 ["arts-and-crafts", "music-and-singing", "walking-and-physical-activity", "gardening-and-nature", "peer-support", "befriending", "volunteering"]),
    "social-isolation": ("Social isolation", ["loneliness", "lonely", "isolated", "alone", "no one to talk to"],
                         ["befriending", "music-and-singing", "community-meals", "mens-sheds", "library-programmes", "arts-and-crafts", "walking-and-physical-activity", "heritage-and-museums"]),
    "anxiety": ("Anxiety and stress", ["anxious", "worry", "stress", "stressed", "panic", "nervous"],
                ["peer-support", "gardening-and-nature", "walking-and-physical-activity", "arts-and-crafts"]),
    "physical-inactivity": ("Physical inactivity", ["inactive", "sedentary", "unfit", "more active"],
                            ["walking-and-physical-activity", "gardening-and-nature"]),
    "bereavement": ("Bereavement", ["grief", "loss", "widowed", "grieving"], ["peer-support", "befriending"]),
    "money-worries": ("Money worries", ["debt", "financial hardship", "cost of living", "poverty", "cannot pay bills"],
                      ["debt-advice", "benefits-advice"]),
    "housing-problems": ("Housing problems", ["eviction", "homeless", "damp", "rent arrears"], ["housing-advice"]),
    "caring-responsibilities": ("Caring responsibilities", ["carer strain", "carer", "looking after someone"], ["carers-groups"]),
    "new-parent-support": ("Support as a new parent", ["postnatal depression", "new mum", "new dad", "baby blues"],
                           ["postnatal-groups", "peer-support"]),
    "long-term-condition": ("Living with a long-term condition", ["chronic illness", "diabetes", "copd", "chronic pain"],
                            ["walking-and-physical-activity", "peer-support"]),
    "low-confidence": ("Low confidence", ["self-esteem", "confidence", "shy"],
                       ["volunteering", "theatre-and-drama", "arts-and-crafts", "learning-and-digital"]),
    "lack-of-purpose": ("Lack of purpose", ["purpose", "bored", "retirement", "nothing to do"],
                        ["volunteering", "mens-sheds", "heritage-and-museums", "gardening-and-nature"]),
    "memory-problems": ("Memory problems", ["dementia", "memory loss", "alzheimer's", "forgetful"],
                        ["music-and-singing", "heritage-and-museums", "carers-groups"]),
}

# code: (name, synonyms)
TRAINING_TYPES: dict[str, tuple[str, list[str]]] = {
    "mental-health-first-aid": ("Mental Health First Aid", ["mhfa"]),
    "safeguarding-adults-level-1": ("Safeguarding adults level 1", []),
    "safeguarding-adults-level-2": ("Safeguarding adults level 2", []),
    "safeguarding-adults-level-3": ("Safeguarding adults level 3", []),
    "safeguarding-children": ("Safeguarding children", ["child protection"]),
    "suicide-awareness": ("Suicide awareness", ["suicide prevention"]),
    "trauma-informed-practice": ("Trauma-informed practice", ["trauma informed"]),
    "data-protection": ("Data protection and GDPR", ["gdpr", "uk gdpr"]),
    "first-aid": ("First aid", ["emergency first aid at work"]),
}

# What organisations ask for help with (and offer each other): code: (name, synonyms)
SUPPORT_CATEGORIES: dict[str, tuple[str, list[str]]] = {
    "core-funding": ("Core funding", ["funding", "running costs", "grants"]),
    "mental-health-training": ("Mental health training", ["mhfa", "mental health first aid"]),
    "safeguarding-training": ("Safeguarding training", ["safeguarding"]),
    "statutory-duties": ("Statutory duties and GDPR", ["gdpr", "data protection", "compliance"]),
    "supervision-and-wellbeing": ("Supervision and staff wellbeing", ["supervision", "wellbeing"]),
    "over-capacity": ("Burn-out and over capacity", ["burn-out", "burnout", "too many referrals"]),
    "navigating-commissioning": ("Navigating commissioning", ["commissioning", "tenders"]),
    "health-partnerships": ("Partnership with health services", ["nhs partnership", "gp"]),
    "mentoring": ("Mentoring", ["mentor"]),
    "peer-network": ("Peer network", ["network", "peers"]),
    "evaluating-impact": ("Evaluating impact", ["evaluation", "impact", "outcomes"]),
    "venue": ("Venue", ["room", "hall", "space"]),
    "volunteers": ("Volunteers", ["volunteer recruitment"]),
    "transport": ("Transport", ["minibus", "travel"]),
}

TAXONOMIES = {
    "activity-category": ("Activity categories", "What an activity is, in the community sector's words."),
    "need": ("Needs", "What a person needs help with, in health and care language."),
    "training-type": ("Training types", "Training that organisations record for assurance."),
    "support-category": (
        "Support categories",
        "What organisations need help with, and offer to each other.",
    ),
}


def seed_vocabulary(session: Session) -> dict[str, TaxonomyTerm]:
    """Add whatever of the starter vocabulary is missing; return all its terms by code."""
    schemes = {t.code: t for t in session.exec(select(Taxonomy))}
    for code, (name, description) in TAXONOMIES.items():
        if code not in schemes:
            schemes[code] = Taxonomy(code=code, name=name, description=description)
            session.add(schemes[code])
    session.flush()
    existing = {
        (term.taxonomy_id, term.code): term for term in session.exec(select(TaxonomyTerm))
    }
    terms: dict[str, TaxonomyTerm] = {}

    def ensure(scheme: str, code: str, name: str, synonyms: list[str]) -> TaxonomyTerm:
        taxonomy = schemes[scheme]
        term = existing.get((taxonomy.id, code))
        if term is None:
            term = TaxonomyTerm(taxonomy_id=taxonomy.id, code=code, name=name)
            session.add(term)
            session.flush()
            for text in synonyms:
                session.add(TermSynonym(term_id=term.id, text=text.lower()))
        terms[code] = term
        return term

    for code, (name, synonyms, _parent) in CATEGORIES.items():
        ensure("activity-category", code, name, synonyms)
    for code, (_name, _synonyms, parent) in CATEGORIES.items():
        if parent and terms[code].parent_id is None:
            terms[code].parent_id = terms[parent].id
    links = {(link.need_id, link.category_id) for link in session.exec(select(NeedCategory))}
    for code, (name, synonyms, helped_by) in NEEDS.items():
        need = ensure("need", code, name, synonyms)
        for category in helped_by:
            if (need.id, terms[category].id) not in links:
                session.add(NeedCategory(need_id=need.id, category_id=terms[category].id))
    for code, (name, synonyms) in TRAINING_TYPES.items():
        ensure("training-type", code, name, synonyms)
    for code, (name, synonyms) in SUPPORT_CATEGORIES.items():
        ensure("support-category", code, name, synonyms)
    session.flush()
    snapshot.bump(session)
    snapshot.clear()
    return terms
