"""The credit demo's texts for people: plain English (``en``) and German (``de``)
labels, reason texts, units and category names, and the outcome words, as the
feature schema's ``translations`` and ``outcome_labels`` (read by notices)."""

from __future__ import annotations

from typing import Any

OUTCOME_LABELS = {
    "en": {
        "good": "low risk: the credit is likely to be repaid",
        "bad": "high risk that the credit is not repaid",
    },
    "de": {
        "good": "geringes Risiko: der Kredit wird wahrscheinlich zurückgezahlt",
        "bad": "hohes Risiko, dass der Kredit nicht zurückgezahlt wird",
    },
}

# plain-English names of the Statlog category strings
EN_CATEGORIES: dict[str, dict[str, str]] = {
    "status_of_existing_checking_account": {
        "... < 0 DM": "overdrawn (below 0 DM)",
        "0 <= ... < 200 DM": "0 to 199 DM",
        "... >= 200 DM / salary assignments for at least 1 year": (
            "200 DM or more, or salary paid in for at least a year"
        ),
        "no checking account": "no checking account",
    },
    "credit_history": {
        "all credits at this bank paid back duly": (
            "all credits at this bank paid back on time"
        ),
        "critical account/ other credits existing (not at this bank)": (
            "critical account, or credits at other banks"
        ),
        "delay in paying off in the past": "late payments in the past",
        "existing credits paid back duly till now": (
            "current credits paid back on time so far"
        ),
        "no credits taken/ all credits paid back duly": (
            "no credits taken, or all paid back on time"
        ),
    },
    "purpose": {
        "business": "business",
        "car (new)": "a new car",
        "car (used)": "a used car",
        "domestic appliances": "household appliances",
        "education": "education",
        "furniture/equipment": "furniture or equipment",
        "others": "other purposes",
        "radio/television": "radio or television",
        "repairs": "repairs",
        "retraining": "retraining",
    },
    "savings_account_and_bonds": {
        "... < 100 DM": "below 100 DM",
        "100 <= ... < 500 DM": "100 to 499 DM",
        "500 <= ... < 1000 DM": "500 to 999 DM",
        "... >= 1000 DM": "1,000 DM or more",
        "unknown/ no savings account": "no savings account (or not known)",
    },
    "present_employment_since": {
        "unemployed": "unemployed",
        "... < 1 year": "less than 1 year",
        "1 <= ... < 4 years": "1 to 3 years",
        "4 <= ... < 7 years": "4 to 6 years",
        "... >= 7 years": "7 years or more",
    },
    "other_debtors_or_guarantors": {
        "co-applicant": "a co-applicant",
        "guarantor": "a guarantor",
        "none": "none",
    },
    "property": {
        "building society savings agreement/ life insurance": (
            "building society savings or life insurance"
        ),
        "car or other, not in attribute Savings account/bonds": "a car or other property",
        "real estate": "real estate",
        "unknown / no property": "no property (or not known)",
    },
    "other_installment_plans": {
        "bank": "with a bank",
        "stores": "with a store",
        "none": "none",
    },
    "housing": {"for free": "lives for free", "own": "owns a home", "rent": "rents"},
    "job": {
        "management/ self-employed/ highly qualified employee/ officer": (
            "manager, self-employed or highly qualified"
        ),
        "skilled employee / official": "skilled employee or official",
        "unemployed/ unskilled - non-resident": "unemployed or unskilled (non-resident)",
        "unskilled - resident": "unskilled (resident)",
    },
    "telephone": {
        "none": "none",
        "yes, registered under the customers name": "yes, in your name",
    },
    "personal_status_and_sex": {
        "female : divorced/separated/married": "female: divorced, separated or married",
        "male : divorced/separated": "male: divorced or separated",
        "male : married/widowed": "male: married or widowed",
        "male : single": "male: single",
    },
    "foreign_worker": {"no": "no", "yes": "yes"},
}

DE_CATEGORIES: dict[str, dict[str, str]] = {
    "status_of_existing_checking_account": {
        "... < 0 DM": "überzogen (unter 0 DM)",
        "0 <= ... < 200 DM": "0 bis 199 DM",
        "... >= 200 DM / salary assignments for at least 1 year": (
            "200 DM oder mehr, oder seit mindestens einem Jahr Gehaltseingang"
        ),
        "no checking account": "kein Girokonto",
    },
    "credit_history": {
        "all credits at this bank paid back duly": (
            "alle Kredite bei dieser Bank pünktlich zurückgezahlt"
        ),
        "critical account/ other credits existing (not at this bank)": (
            "kritisches Konto oder Kredite bei anderen Banken"
        ),
        "delay in paying off in the past": "früher verspätete Zahlungen",
        "existing credits paid back duly till now": (
            "laufende Kredite bisher pünktlich bezahlt"
        ),
        "no credits taken/ all credits paid back duly": (
            "keine Kredite oder alle pünktlich zurückgezahlt"
        ),
    },
    "purpose": {
        "business": "Geschäftliches",
        "car (new)": "Neuwagen",
        "car (used)": "Gebrauchtwagen",
        "domestic appliances": "Haushaltsgeräte",
        "education": "Ausbildung",
        "furniture/equipment": "Möbel oder Einrichtung",
        "others": "andere Zwecke",
        "radio/television": "Radio oder Fernseher",
        "repairs": "Reparaturen",
        "retraining": "Umschulung",
    },
    "savings_account_and_bonds": {
        "... < 100 DM": "unter 100 DM",
        "100 <= ... < 500 DM": "100 bis 499 DM",
        "500 <= ... < 1000 DM": "500 bis 999 DM",
        "... >= 1000 DM": "1.000 DM oder mehr",
        "unknown/ no savings account": "kein Sparkonto (oder unbekannt)",
    },
    "present_employment_since": {
        "unemployed": "arbeitslos",
        "... < 1 year": "weniger als 1 Jahr",
        "1 <= ... < 4 years": "1 bis 3 Jahre",
        "4 <= ... < 7 years": "4 bis 6 Jahre",
        "... >= 7 years": "7 Jahre oder mehr",
    },
    "other_debtors_or_guarantors": {
        "co-applicant": "ein Mitantragsteller",
        "guarantor": "ein Bürge",
        "none": "keine",
    },
    "property": {
        "building society savings agreement/ life insurance": (
            "Bausparvertrag oder Lebensversicherung"
        ),
        "car or other, not in attribute Savings account/bonds": (
            "ein Auto oder anderes Eigentum"
        ),
        "real estate": "Immobilien",
        "unknown / no property": "kein Eigentum (oder unbekannt)",
    },
    "other_installment_plans": {
        "bank": "bei einer Bank",
        "stores": "bei einem Geschäft",
        "none": "keine",
    },
    "housing": {
        "for free": "wohnt kostenlos",
        "own": "Wohneigentum",
        "rent": "zur Miete",
    },
    "job": {
        "management/ self-employed/ highly qualified employee/ officer": (
            "Führungskraft, selbstständig oder hoch qualifiziert"
        ),
        "skilled employee / official": "Fachkraft oder Beamter",
        "unemployed/ unskilled - non-resident": (
            "arbeitslos oder ungelernt (nicht ansässig)"
        ),
        "unskilled - resident": "ungelernt (ansässig)",
    },
    "telephone": {
        "none": "keines",
        "yes, registered under the customers name": "ja, auf Ihren Namen",
    },
    "personal_status_and_sex": {
        "female : divorced/separated/married": (
            "weiblich: geschieden, getrennt lebend oder verheiratet"
        ),
        "male : divorced/separated": "männlich: geschieden oder getrennt lebend",
        "male : married/widowed": "männlich: verheiratet oder verwitwet",
        "male : single": "männlich: ledig",
    },
    "foreign_worker": {"no": "nein", "yes": "ja"},
}

# label, reason and unit in German; the plain-English reason where the base text is
# Reg B's vocabulary
DE_TEXTS: dict[str, dict[str, str]] = {
    "status_of_existing_checking_account": {
        "label": "Girokonto",
        "reason": "Kontostand Ihres Girokontos",
    },
    "duration_in_month": {
        "label": "Laufzeit des Kredits",
        "reason": "Laufzeit des beantragten Kredits",
        "unit": "Monate",
    },
    "credit_history": {"label": "Kreditgeschichte", "reason": "Ihre Kreditgeschichte"},
    "purpose": {"label": "Zweck des Kredits", "reason": "Zweck des Kredits"},
    "credit_amount": {
        "label": "Kreditbetrag",
        "reason": "Höhe des beantragten Kredits",
        "unit": "DM",
    },
    "savings_account_and_bonds": {
        "label": "Sparkonto und Wertpapiere",
        "reason": "Guthaben auf Sparkonto und in Wertpapieren",
    },
    "present_employment_since": {
        "label": "Dauer der jetzigen Beschäftigung",
        "reason": "Dauer Ihrer Beschäftigung",
    },
    "installment_rate_in_percentage_of_disposable_income": {
        "label": "Rate im Verhältnis zum verfügbaren Einkommen",
        "reason": "Zu hohe Verpflichtungen im Verhältnis zum Einkommen",
    },
    "personal_status_and_sex": {
        "label": "Familienstand und Geschlecht",
        "reason": "Familienstand und Geschlecht",
    },
    "other_debtors_or_guarantors": {
        "label": "Mitantragsteller oder Bürgen",
        "reason": "Mitantragsteller oder Bürgen",
    },
    "present_residence_since": {
        "label": "Wohndauer an der jetzigen Adresse",
        "reason": "Wohndauer",
    },
    "property": {
        "label": "Eigentum",
        "reason": "Wert oder Art der Sicherheiten nicht ausreichend",
    },
    "age_in_years": {"label": "Alter", "reason": "Alter", "unit": "Jahre"},
    "other_installment_plans": {
        "label": "Andere Ratenzahlungen",
        "reason": "Zu hohe Verpflichtungen durch andere Ratenzahlungen",
    },
    "housing": {"label": "Wohnsituation", "reason": "Ihre Wohnsituation"},
    "number_of_existing_credits_at_this_bank": {
        "label": "Bestehende Kredite bei dieser Bank",
        "reason": "Anzahl Ihrer Kredite bei dieser Bank",
        "unit": "Kredite",
    },
    "job": {"label": "Beruf", "reason": "Art Ihrer Beschäftigung"},
    "number_of_people_being_liable_to_provide_maintenance_for": {
        "label": "Unterhaltsberechtigte Personen",
        "reason": "Zahl der Personen, für die Sie Unterhalt zahlen",
        "unit": "Personen",
    },
    "telephone": {
        "label": "Telefon",
        "reason": "Telefon auf Ihren Namen",
    },
    "foreign_worker": {"label": "Ausländischer Arbeitnehmer", "reason": "Herkunft"},
}

EN_TEXTS: dict[str, dict[str, str]] = {
    "status_of_existing_checking_account": {
        "label": "Checking account balance",
        "reason": "The balance of your checking account",
    },
    "duration_in_month": {"reason": "How long the credit would run"},
    "credit_history": {"reason": "Your record of paying back credit"},
    "purpose": {"reason": "What the credit is for"},
    "credit_amount": {"reason": "The amount of credit you asked for"},
    "savings_account_and_bonds": {"reason": "Your savings and bonds"},
    "present_employment_since": {"reason": "How long you have had your job"},
    "installment_rate_in_percentage_of_disposable_income": {
        "reason": "Your repayments are high compared with your income"
    },
    "present_residence_since": {"reason": "How long you have lived at your address"},
    "number_of_existing_credits_at_this_bank": {
        "reason": "How many credits you already have with us"
    },
    "number_of_people_being_liable_to_provide_maintenance_for": {
        "label": "People you support",
        "reason": "How many people you support",
    },
    "other_debtors_or_guarantors": {"reason": "Co-applicant or guarantor arrangements"},
    "property": {"reason": "Not enough security (property) for the credit"},
    "other_installment_plans": {"reason": "Repayments you make on other plans"},
    "housing": {"reason": "Your housing"},
    "job": {"reason": "Your type of job"},
    "telephone": {"reason": "Telephone registered in your name"},
}


def translations(name: str) -> dict[str, Any]:
    """The ``translations`` of the credit feature ``name``."""
    out: dict[str, Any] = {}
    for language, texts, categories in (
        ("en", EN_TEXTS, EN_CATEGORIES),
        ("de", DE_TEXTS, DE_CATEGORIES),
    ):
        entry: dict[str, Any] = dict(texts.get(name, {}))
        if name in categories:
            entry["categories"] = dict(categories[name])
        if entry:
            out[language] = entry
    return out
