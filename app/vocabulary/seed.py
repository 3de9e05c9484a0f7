"""The starter vocabulary: activity categories in community language, needs in health
language, synonyms from both sectors, and which categories help with which needs.

``signpost seed-vocabulary`` loads it into any database (idempotent); the demo uses it too.
"""

from sqlmodel import Session, select

from app.search.words import normalise
from app.vocabulary import snapshot
from app.vocabulary.models import (
    NeedCategory,
    Taxonomy,
    TaxonomyTerm,
    TermSynonym,
    VocabularyState,
)

# Sources. The needs are those link workers record and that social prescribing evaluations
# report people being referred for; the everyday phrasings are how referrers and people
# themselves describe them in those sources:
# - NHS England (2023) "Social prescribing: Reference guide and technical annex for primary
#   care networks": who benefits (people with long-term conditions, low-level mental health
#   needs, who are lonely or isolated, or have complex social needs affecting wellbeing).
# - NHS England (2020) "Social prescribing and community-based support: Summary guide".
# - HM Government (2018) "A connected society: A strategy for tackling loneliness".
# - Polley M. et al. (2017) "A review of the evidence assessing impact of social
#   prescribing on healthcare demand and cost implications", University of Westminster.
# - Bickerdike L. et al. (2017) "Social prescribing: less rhetoric and more reality. A
#   systematic review of the evidence", BMJ Open 7:e013384.
# - Husk K. et al. (2020) "What approaches to social prescribing work, for whom, and in what
#   circumstances? A realist review", Health & Social Care in the Community 28(2).
# - Wildman J.M. et al. (2019) "Service-users' perspectives of link worker social
#   prescribing: a qualitative follow-up study", BMC Public Health 19:98 (Ways to Wellness).
# Activity categories follow the community offers those sources describe (arts, nature,
# physical activity, befriending, peer support, advice, learning, volunteering, food).
# Stewards extend all of it through the API; `signpost seed-vocabulary` only adds what is
# missing, so their curation is never undone.

# code: (name, synonyms, parent code)
CATEGORIES: dict[str, tuple[str, list[str], str | None]] = {
    "arts-and-crafts": ("Arts and crafts", ["art", "arts", "crafts", "craft group", "painting", "drawing", "knitting", "sewing", "pottery", "creative writing", "photography"], None),
    "music-and-singing": ("Choirs and music", ["choir", "singing", "music", "band", "ukulele", "music group"], None),
    "theatre-and-drama": ("Theatre and drama", ["drama", "acting", "theatre", "performance", "improv"], None),
    "heritage-and-museums": ("Heritage and museums", ["museum", "history", "heritage", "archives", "local history"], None),
    "library-programmes": ("Library programmes", ["library", "reading group", "book club", "reading"], None),
    "gardening-and-nature": ("Gardening and nature", ["gardening", "garden", "allotment", "green space", "nature", "conservation", "outdoors", "green prescribing", "community garden"], None),
    "walking-and-physical-activity": ("Walking and physical activity", ["walking group", "walking", "walks", "health walk", "exercise", "exercise class", "sport", "yoga", "tai chi", "dance", "dancing", "fitness", "swimming", "gym", "football", "chair exercise", "cycling", "park run", "parkrun"], None),
    "mindfulness-and-relaxation": ("Mindfulness and relaxation", ["mindfulness", "meditation", "relaxation", "breathing", "stress management", "wellbeing course"], None),
    "mens-sheds": ("Men's sheds", ["men's shed", "mens shed", "shed", "woodwork", "diy", "making and mending", "repair cafe"], None),
    "befriending": ("Befriending", ["befriender", "befriending service", "friendship", "home visits", "telephone friendship", "phone calls", "friendly calls", "companionship"], None),
    "peer-support": ("Peer support", ["support group", "peer group", "mutual aid", "peer mentor", "self-help group", "talking group"], None),
    "postnatal-groups": ("Postnatal and parent groups", ["postnatal", "new parents", "baby group", "parent and toddler", "mums group", "dads group", "stay and play"], None),
    "volunteering": ("Volunteering", ["volunteer", "volunteering opportunities", "giving back", "helping others"], None),
    "advice": ("Advice", ["advice", "information and advice", "advice service", "citizens advice"], None),
    "debt-advice": ("Debt and money advice", ["debt", "money advice", "budgeting", "debt advice", "financial advice"], "advice"),
    "benefits-advice": ("Benefits advice", ["benefits", "universal credit", "welfare rights", "pip", "benefits check"], "advice"),
    "housing-advice": ("Housing advice", ["housing", "tenancy", "eviction", "homelessness", "housing support"], "advice"),
    "carers-groups": ("Carers' groups", ["carers", "unpaid carer", "caring for someone", "carers group", "carers support", "respite"], None),
    "community-meals": ("Lunch clubs and community meals", ["lunch club", "community meal", "cooking", "cookery", "food", "community cafe", "cook and eat"], None),
    "food-support": ("Food banks and pantries", ["food bank", "foodbank", "food parcels", "community pantry", "pantry", "community fridge", "food club"], None),
    "learning-and-digital": ("Learning and digital skills", ["computer class", "digital skills", "esol", "english class", "adult learning", "courses", "learning", "digital inclusion"], None),
    "employment-support": ("Employment support", ["job club", "work club", "cv help", "careers advice", "employability", "job search"], None),
    "recovery-groups": ("Alcohol and drug recovery groups", ["recovery group", "recovery cafe", "aa", "alcoholics anonymous", "smart recovery", "narcotics anonymous"], None),
    "weight-and-healthy-eating": ("Weight management and healthy eating", ["slimming group", "weight management", "healthy eating", "nutrition", "healthy cooking"], None),
}

# The needs: code: (name, synonyms, categories that help)
NEEDS: dict[str, tuple[str, list[str], list[str]]] = {
    "mental-health": ("Mental health and wellbeing", ["mental health", "emotional wellbeing", "wellbeing", "mental wellbeing", "emotional health", "emotional support", "mental health support", "poor mental health", "mental health problems", "struggling mentally", "not coping", "not coping well", "struggling to cope"],
                      ["peer-support", "mindfulness-and-relaxation", "arts-and-crafts", "walking-and-physical-activity", "gardening-and-nature"]),
    "low-mood": ("Low mood and depression", ["depression", "depressed", "feeling down", "feeling low", "low mood", "low in mood", "sad", "sadness", "unhappy", "fed up", "feeling fed up", "miserable", "low spirits", "mild depression", "no motivation", "lack of motivation", "lost interest", "lost interest in things", "no interest in anything", "unmotivated", "hopeless", "tearful", "feeling rubbish", "not himself", "not herself", "feeling blue"],
                 ["arts-and-crafts", "music-and-singing", "walking-and-physical-activity", "gardening-and-nature", "peer-support", "befriending", "volunteering"]),
    "anxiety": ("Anxiety and panic", ["anxious", "anxiety", "worry", "worried", "worrying", "worries a lot", "panic", "panic attacks", "panicky", "nervous", "nerves", "on edge", "social anxiety", "phobia", "agoraphobia", "scared to go out", "afraid to go out", "scared to leave the house", "afraid to leave the house", "scared of going out", "fear of going out", "overthinking", "health anxiety", "worried all the time"],
                ["peer-support", "mindfulness-and-relaxation", "gardening-and-nature", "walking-and-physical-activity", "arts-and-crafts"]),
    "stress": ("Stress", ["stress", "stressed", "stressed out", "stressful", "under pressure", "pressure", "overwhelmed", "burnout", "burnt out", "burned out", "cant cope", "frazzled", "at the end of her tether", "at the end of his tether", "not sleeping", "cant sleep", "insomnia", "sleep problems", "tense"],
               ["mindfulness-and-relaxation", "walking-and-physical-activity", "gardening-and-nature", "arts-and-crafts", "music-and-singing"]),
    "mental-illness": ("Mental illness and lived experience", ["mental illness", "serious mental illness", "smi", "mental ill health", "bipolar", "schizophrenia", "psychosis", "personality disorder", "eating disorder", "ptsd", "trauma", "self harm", "self-harm", "ocd", "lived experience", "mental health recovery", "hearing voices", "breakdown", "nervous breakdown", "mental health diagnosis", "secondary mental health services", "recovering from mental illness"],
                       ["peer-support", "arts-and-crafts", "gardening-and-nature", "volunteering"]),
    "social-isolation": ("Social isolation", ["loneliness", "lonely", "isolated", "isolation", "socially isolated", "alone", "lives alone", "living alone", "lives on her own", "lives on his own", "on her own", "on his own", "by herself", "by himself", "all alone", "no friends", "hasnt got any friends", "no one to talk to", "nobody to talk to", "doesnt see anyone", "sees no one", "never sees anyone", "no family", "no family nearby", "no company", "needs company", "wants company", "lack of company", "no social contact", "no social life", "housebound", "doesnt go out", "left the house", "leave the house", "leaving the house", "doesnt leave the house", "never goes out", "rarely goes out", "stuck indoors", "stuck at home", "cut off", "withdrawn", "left out", "meet people", "meet new people", "meeting people", "make friends", "making friends", "new friends", "new to the area", "moved to the area", "get out more", "needs to get out more", "get out of the house", "someone to talk to", "social contact", "company", "friends"],
                         ["befriending", "music-and-singing", "community-meals", "mens-sheds", "library-programmes", "arts-and-crafts", "walking-and-physical-activity", "heritage-and-museums"]),
    "physical-inactivity": ("Physical inactivity", ["inactive", "physically inactive", "sedentary", "unfit", "more active", "get active", "getting active", "be more active", "needs to get active", "needs to be more active", "not active", "not very active", "needs exercise", "needs to exercise", "more exercise", "no exercise", "lack of exercise", "out of shape", "deconditioned", "get moving", "move more", "keep fit", "get fit", "sits all day", "sitting all day"],
                            ["walking-and-physical-activity", "gardening-and-nature"]),
    "weight": ("Weight", ["overweight", "obese", "obesity", "weight", "weight loss", "lose weight", "losing weight", "needs to lose weight", "healthy weight", "bmi", "high bmi", "weight gain", "weight management", "healthy eating", "eating habits", "eat healthier", "eating healthily", "poor diet", "diet"],
               ["weight-and-healthy-eating", "walking-and-physical-activity", "community-meals"]),
    "long-term-condition": ("Living with a long-term condition", ["long term condition", "long-term conditions", "chronic illness", "chronic condition", "chronic pain", "pain", "diabetes", "type 2 diabetes", "copd", "breathing problems", "arthritis", "heart disease", "heart failure", "heart condition", "asthma", "multiple sclerosis", "parkinsons", "stroke", "cancer", "fibromyalgia", "long covid", "fatigue", "chronic fatigue", "disability", "disabled", "mobility problems", "high blood pressure", "blood pressure", "hypertension", "hearing loss", "sight loss", "frailty", "frail", "falls", "kidney disease", "back pain"],
                            ["walking-and-physical-activity", "peer-support", "weight-and-healthy-eating", "mindfulness-and-relaxation"]),
    "bereavement": ("Bereavement", ["grief", "grieving", "loss", "bereaved", "recently bereaved", "widowed", "widow", "widower", "mourning", "passed away", "died", "death in the family", "lost a loved one", "lost her husband", "lost his wife", "lost her partner", "lost his partner", "lost her mum", "lost his mum", "husband died", "wife died", "partner died", "mum died", "dad died", "lost a child"],
                    ["peer-support", "befriending"]),
    "money-worries": ("Debt and money worries", ["debt", "debts", "in debt", "money", "money problems", "money worries", "money troubles", "worried about money", "financial problems", "financial difficulties", "financial hardship", "financial worries", "cost of living", "poverty", "low income", "cannot pay bills", "cant pay bills", "cant pay the bills", "bills", "arrears", "struggling financially", "struggling with money", "skint", "broke", "hard up", "fuel poverty", "energy bills", "cant afford heating", "cant afford to heat", "budgeting help"],
                      ["debt-advice", "benefits-advice"]),
    "benefits": ("Benefits and entitlements", ["benefit", "benefits", "universal credit", "uc", "pip", "esa", "pension credit", "attendance allowance", "carers allowance", "housing benefit", "benefit sanction", "sanctioned", "benefit forms", "benefits forms", "claiming benefits", "benefits problems", "welfare", "dwp", "benefit claim", "fit note"],
                 ["benefits-advice"]),
    "housing-problems": ("Housing problems", ["housing", "homeless", "homelessness", "eviction", "evicted", "facing eviction", "damp", "mould", "damp and mould", "rent arrears", "poor housing", "bad housing", "overcrowding", "overcrowded", "sofa surfing", "rough sleeping", "unsafe housing", "housing issues", "housing problem", "landlord problems", "no fixed abode", "temporary accommodation", "cold home", "cold house", "needs somewhere to live"],
                         ["housing-advice"]),
    "food-insecurity": ("Food insecurity", ["food bank", "foodbank", "food banks", "food parcel", "food parcels", "cant afford food", "cant afford to eat", "cannot afford food", "no food", "not enough food", "no money for food", "hungry", "hunger", "going hungry", "skipping meals", "food poverty", "struggling to eat", "struggling to afford food", "free food", "hot meal", "empty cupboards", "food insecure", "food"],
                        ["food-support", "community-meals"]),
    "employment": ("Employment and skills", ["unemployed", "unemployment", "out of work", "no job", "job", "jobs", "looking for work", "looking for a job", "job seeking", "jobseeker", "lost job", "lost his job", "lost her job", "redundancy", "made redundant", "redundant", "back to work", "return to work", "getting back to work", "employment", "career", "careers", "skills", "new skills", "qualifications", "cv", "apprenticeship", "work"],
                   ["employment-support", "learning-and-digital", "volunteering"]),
    "digital-exclusion": ("Digital exclusion", ["digital exclusion", "digitally excluded", "no internet", "no wifi", "cant use a computer", "cant use computers", "cant get online", "cannot get online", "not online", "offline", "getting online", "get online", "computer skills", "digital skills", "online forms", "smartphone", "using a smartphone", "using a phone", "using a tablet", "email", "internet", "help with technology", "technology", "computers", "computer"],
                          ["learning-and-digital", "library-programmes"]),
    "substance-use": ("Alcohol and substance use", ["alcohol", "drinking", "drinks too much", "drinking too much", "heavy drinking", "drink problem", "alcohol problem", "alcoholism", "alcoholic", "drugs", "drug use", "drug problem", "substance use", "substance misuse", "addiction", "addicted", "gambling", "gambling problem", "smoking", "stop smoking", "quit smoking", "cannabis", "addiction recovery", "in recovery"],
                      ["recovery-groups", "peer-support"]),
    "caring-responsibilities": ("Caring for someone", ["carer", "carers", "unpaid carer", "young carer", "carer strain", "carer stress", "carer burnout", "caring role", "caring responsibilities", "looking after someone", "looks after her husband", "looks after his wife", "looks after her mum", "looks after his mum", "caring for", "cares for", "caring for a relative", "needs a break from caring", "needs respite"],
                                ["carers-groups", "peer-support"]),
    "new-parent-support": ("Support as a new parent", ["postnatal depression", "new mum", "new mom", "new mother", "new dad", "new father", "new parent", "new baby", "baby blues", "pregnant", "pregnancy", "perinatal", "perinatal mental health", "struggling with baby", "struggling with a new baby", "first baby", "first time mum", "first time dad", "first time parent"],
                           ["postnatal-groups", "peer-support"]),
    "low-confidence": ("Low confidence", ["self-esteem", "low self-esteem", "low self esteem", "confidence", "no confidence", "lacks confidence", "lacking confidence", "low confidence", "shy", "shyness", "self-worth", "self worth", "self confidence"],
                       ["volunteering", "theatre-and-drama", "arts-and-crafts", "learning-and-digital"]),
    "lack-of-purpose": ("Lack of purpose", ["purpose", "no purpose", "bored", "boredom", "retirement", "retired", "recently retired", "nothing to do", "no routine", "lack of structure", "no structure", "aimless", "something to do", "fill the day", "fill his time", "fill her time", "meaningful activity", "feels useless"],
                        ["volunteering", "mens-sheds", "heritage-and-museums", "gardening-and-nature"]),
    "memory-problems": ("Memory problems and dementia", ["dementia", "memory loss", "memory problems", "alzheimers", "alzheimer's", "forgetful", "forgetting things", "confusion", "confused", "cognitive decline", "mild cognitive impairment", "memory"],
                        ["music-and-singing", "heritage-and-museums", "carers-groups"]),
    "neurodiversity": ("Learning disability and neurodiversity", ["learning disability", "learning disabilities", "learning difficulty", "autism", "autistic", "asd", "adhd", "neurodivergent", "neurodiverse", "aspergers"],
                       ["peer-support", "arts-and-crafts", "learning-and-digital"]),
    "language-and-settling": ("Language and settling in", ["english not first language", "limited english", "little english", "language barrier", "learn english", "learning english", "refugee", "asylum seeker", "new to the country", "newly arrived", "migrant", "esol"],
                              ["learning-and-digital", "community-meals", "peer-support"]),
}

# Broader needs: a search for one also finds what its narrower needs find.
NEED_PARENTS = {
    "low-mood": "mental-health",
    "anxiety": "mental-health",
    "stress": "mental-health",
    "mental-illness": "mental-health",
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


# Raised whenever the starter vocabulary gains synonyms or links for terms that already
# exist; each database takes each release's additions once (vocabulary_state.seeded).
SEED_RELEASE = 2


def seed_vocabulary(session: Session) -> dict[str, TaxonomyTerm]:
    """Add whatever of the starter vocabulary is missing; return all its terms by code.

    New terms come with their synonyms and links. Terms that exist already get the
    starter synonyms, links and parents of a newer release once (unless another term of
    the scheme now uses the synonym); after that, what stewards removed stays removed."""
    state = session.get(VocabularyState, 1)
    if state is None:
        state = VocabularyState(id=1, version=1, seeded=0)
        session.add(state)
    top_up = state.seeded < SEED_RELEASE
    schemes = {t.code: t for t in session.exec(select(Taxonomy))}
    for code, (name, description) in TAXONOMIES.items():
        if code not in schemes:
            schemes[code] = Taxonomy(code=code, name=name, description=description)
            session.add(schemes[code])
    session.flush()
    existing = {
        (term.taxonomy_id, term.code): term for term in session.exec(select(TaxonomyTerm))
    }
    # Every synonym already said in each scheme: a starter synonym a steward has since
    # given to another term stays where the steward put it.
    said: set[tuple] = {
        (taxonomy_id, normalise(text))
        for taxonomy_id, text in session.exec(
            select(TaxonomyTerm.taxonomy_id, TermSynonym.text).join(
                TermSynonym, TermSynonym.term_id == TaxonomyTerm.id
            )
        )
    }
    terms: dict[str, TaxonomyTerm] = {}
    created: set[str] = set()

    def ensure(scheme: str, code: str, name: str, synonyms: list[str]) -> TaxonomyTerm:
        taxonomy = schemes[scheme]
        term = existing.get((taxonomy.id, code))
        if term is None:
            term = TaxonomyTerm(taxonomy_id=taxonomy.id, code=code, name=name)
            session.add(term)
            session.flush()
            created.add(code)
        if code in created or top_up:
            for text in synonyms:
                if (taxonomy.id, normalise(text)) not in said:
                    said.add((taxonomy.id, normalise(text)))
                    session.add(TermSynonym(term_id=term.id, text=text.lower()))
        terms[code] = term
        return term

    def place(code: str, parent: str) -> None:
        if (code in created or top_up) and terms[code].parent_id is None:
            terms[code].parent_id = terms[parent].id

    for code, (name, synonyms, _parent) in CATEGORIES.items():
        ensure("activity-category", code, name, synonyms)
    for code, (_name, _synonyms, parent) in CATEGORIES.items():
        if parent:
            place(code, parent)
    links = {(link.need_id, link.category_id) for link in session.exec(select(NeedCategory))}
    for code, (name, synonyms, helped_by) in NEEDS.items():
        need = ensure("need", code, name, synonyms)
        for category in helped_by:
            fresh = code in created or category in created
            if (fresh or top_up) and (need.id, terms[category].id) not in links:
                session.add(NeedCategory(need_id=need.id, category_id=terms[category].id))
    for code, parent in NEED_PARENTS.items():
        place(code, parent)
    for code, (name, synonyms) in TRAINING_TYPES.items():
        ensure("training-type", code, name, synonyms)
    for code, (name, synonyms) in SUPPORT_CATEGORIES.items():
        ensure("support-category", code, name, synonyms)
    state.seeded = max(state.seeded, SEED_RELEASE)
    if created or session.new or any(session.is_modified(term) for term in terms.values()):
        snapshot.bump(session)  # only when something was added: a re-run writes nothing
    session.flush()
    snapshot.clear()
    return terms
