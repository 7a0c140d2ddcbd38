"""Fill locale/de/LC_MESSAGES/django.po from ``GERMAN`` (after ``makemessages -l de``);
then ``compilemessages``. Run: python locale/translate_de.py"""

from __future__ import annotations

import re
import sys
from pathlib import Path

PO = Path(__file__).resolve().parent / "de" / "LC_MESSAGES" / "django.po"

GERMAN = {
    "%(value)s on a scale from %(low)s to %(high)s": "%(value)s auf einer Skala von %(low)s bis %(high)s",
    "yes": "ja",
    "no": "nein",
    "This counted against your application.": "Das sprach gegen Ihren Antrag.",
    "This pointed towards this result.": "Das sprach für dieses Ergebnis.",
    "%(reason)s. Your value: %(value)s. %(effect)s": "%(reason)s. Ihr Wert: %(value)s. %(effect)s",
    "%(label)s: %(to)s instead of %(from)s": "%(label)s: %(to)s statt %(from)s",
    "Log in": "Anmelden",
    "Your credit application: our decision and the reasons": "Ihr Kreditantrag: unsere Entscheidung und die Gründe",
    "Your test result: how an AI system was used": "Ihr Befund: wie ein KI-System verwendet wurde",
    "A decision about you: how it was made": "Eine Entscheidung über Sie: wie sie getroffen wurde",
    "Your reference": "Ihr Aktenzeichen",
    "Please quote it when you contact us.": "Bitte geben Sie es an, wenn Sie uns schreiben.",
    "The result": "Das Ergebnis",
    "Our decision": "Unsere Entscheidung",
    "We have refused your application for credit.": "Wir haben Ihren Kreditantrag abgelehnt.",
    "This means we will not give you this credit now.": "Das heißt: Wir geben Ihnen diesen Kredit jetzt nicht.",
    "We have approved your application for credit.": "Wir haben Ihren Kreditantrag angenommen.",
    "The result is: %(outcome)s.": "Das Ergebnis lautet: %(outcome)s.",
    "This is not a final diagnosis. It means that more care or tests may be needed.": "Das ist noch keine endgültige Diagnose. Es kann sein, dass weitere Untersuchungen oder eine Behandlung nötig sind.",
    "The decision is: %(outcome)s.": "Die Entscheidung lautet: %(outcome)s.",
    "The decision was made on %(day)s.": "Die Entscheidung wurde am %(day)s getroffen.",
    "How the decision was made": "Wie die Entscheidung getroffen wurde",
    "A computer program helped to read your test. It is an AI system called %(system)s.": "Ein Computerprogramm hat geholfen, Ihre Untersuchung auszuwerten. Es ist ein KI-System mit dem Namen %(system)s.",
    "It suggested: %(outcome)s.": "Es schlug vor: %(outcome)s.",
    "The AI system does not make the diagnosis. A doctor does.": "Das KI-System stellt keine Diagnose. Das tut eine Ärztin oder ein Arzt.",
    "A computer program looked at your application first. It is an AI system called %(system)s.": "Ein Computerprogramm hat Ihren Antrag zuerst geprüft. Es ist ein KI-System mit dem Namen %(system)s.",
    "It gave this result: %(outcome)s.": "Es kam zu diesem Ergebnis: %(outcome)s.",
    "A doctor, %(name)s, checked the result on %(day)s.": "Eine Ärztin oder ein Arzt (%(name)s) hat das Ergebnis am %(day)s geprüft.",
    "They changed it to: %(outcome)s.": "Das Ergebnis wurde dabei geändert in: %(outcome)s.",
    "They agreed with it.": "Das Ergebnis wurde dabei bestätigt.",
    "Their check is not finished yet.": "Diese Prüfung ist noch nicht abgeschlossen.",
    "Your doctor decides on your diagnosis and care, not the computer.": "Über Ihre Diagnose und Behandlung entscheidet Ihre Ärztin oder Ihr Arzt, nicht der Computer.",
    "A member of our staff, %(name)s, checked the result on %(day)s.": "Eine Mitarbeiterin oder ein Mitarbeiter (%(name)s) hat das Ergebnis am %(day)s geprüft.",
    "The final decision was made by a person, not by the computer.": "Die endgültige Entscheidung hat ein Mensch getroffen, nicht der Computer.",
    "No person has checked this result yet.": "Noch kein Mensch hat dieses Ergebnis geprüft.",
    "You have the right to ask for a person to check it.": "Sie haben das Recht, eine Prüfung durch einen Menschen zu verlangen.",
    "The main reasons": "Die wichtigsten Gründe",
    "These facts about your application weighed most against it. The most important comes first.": "Diese Angaben in Ihrem Antrag sprachen am stärksten dagegen. Der wichtigste Grund steht zuerst.",
    "These facts weighed most for this result. The most important comes first.": "Diese Angaben waren für das Ergebnis am wichtigsten. Die wichtigste steht zuerst.",
    "What would change the outcome": "Was das Ergebnis ändern würde",
    "We tested your application again with a few changes. With these changes, the result would have been different:": "Wir haben Ihren Antrag mit wenigen Änderungen noch einmal geprüft. Mit diesen Änderungen wäre das Ergebnis anders ausgefallen:",
    "All other facts stay the same. This is not a promise of credit. You may apply again at any time.": "Alle anderen Angaben bleiben gleich. Das ist keine Zusage für einen Kredit. Sie können jederzeit einen neuen Antrag stellen.",
    "We looked for changes within your control that would lead to a different result. We did not find any.": "Wir haben nach Änderungen gesucht, die Sie selbst beeinflussen können und die zu einem anderen Ergebnis führen. Wir haben keine gefunden.",
    "What happens next": "Wie es weitergeht",
    "Your doctor will talk to you about the result and what it means for you.": "Ihre Ärztin oder Ihr Arzt bespricht das Ergebnis mit Ihnen und was es für Sie bedeutet.",
    "Together you will decide on the next steps.": "Gemeinsam entscheiden Sie über die nächsten Schritte.",
    "You can ask your doctor any questions about how the AI system was used.": "Sie können Ihrer Ärztin oder Ihrem Arzt alle Fragen dazu stellen, wie das KI-System verwendet wurde.",
    "Your rights": "Ihre Rechte",
    "You can ask for a person to look at the decision again.": "Sie können verlangen, dass ein Mensch die Entscheidung noch einmal prüft.",
    "You can tell us your point of view and contest the decision.": "Sie können uns Ihre Sicht darlegen und die Entscheidung anfechten.",
    "You can ask us for a copy of your data and for more about how the decision was made.": "Sie können eine Kopie Ihrer Daten und weitere Auskunft darüber verlangen, wie die Entscheidung zustande kam.",
    "To do this, write to us within %(days)s days, by %(day)s.": "Schreiben Sie uns dazu innerhalb von %(days)s Tagen, bis zum %(day)s.",
    "Contact: %(contact)s.": "Kontakt: %(contact)s.",
    "Please give your reference.": "Bitte geben Sie Ihr Aktenzeichen an.",
    "You can also complain to: %(regulator)s.": "Sie können sich auch beschweren bei: %(regulator)s.",
    "Your rights come from the EU data protection law (GDPR, Articles 15 and 22)": "Ihre Rechte ergeben sich aus der Datenschutz-Grundverordnung (DSGVO, Artikel 15 und 22)",
    "and the EU AI Act (Article 86)": "und der KI-Verordnung der EU (Artikel 86)",
    "Notice of action taken (Equal Credit Opportunity Act)": "Mitteilung über die Entscheidung (Equal Credit Opportunity Act, USA)",
    "Action taken: %(org)s has refused your application for credit. The principal reasons are listed above under “The main reasons”.": "Getroffene Entscheidung: %(org)s hat Ihren Kreditantrag abgelehnt. Die wichtigsten Gründe stehen oben unter „Die wichtigsten Gründe“.",
    "Creditor": "Kreditgeber",
    "The federal Equal Credit Opportunity Act prohibits creditors from discriminating against credit applicants on the basis of race, color, religion, national origin, sex, marital status, age (provided the applicant has the capacity to enter into a binding contract); because all or part of the applicant's income derives from any public assistance program; or because the applicant has in good faith exercised any right under the Consumer Credit Protection Act.": "Das US-Bundesgesetz Equal Credit Opportunity Act verbietet Kreditgebern, Antragsteller wegen ihrer Herkunft, Hautfarbe, Religion, Staatsangehörigkeit, ihres Geschlechts, Familienstands oder Alters (sofern sie geschäftsfähig sind) zu benachteiligen; ebenso, weil ihr Einkommen ganz oder teilweise aus öffentlicher Unterstützung stammt oder weil sie in gutem Glauben ein Recht nach dem Consumer Credit Protection Act ausgeübt haben.",
    "The federal agency that administers compliance with this law concerning this creditor is": "Die Bundesbehörde, die die Einhaltung dieses Gesetzes durch diesen Kreditgeber überwacht, ist",
    "the Consumer Financial Protection Bureau, 1700 G Street NW, Washington, DC 20552": "das Consumer Financial Protection Bureau, 1700 G Street NW, Washington, DC 20552",
    "Document %(id)s, version %(version)s.": "Dokument %(id)s, Version %(version)s.",
    "You can check that this document is genuine at %(url)s.": "Ob dieses Dokument echt ist, können Sie hier prüfen: %(url)s",
}


def _quote(text: str) -> str:
    return (
        '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    )


def _unquote(lines: str) -> str:
    joined = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', lines))
    return joined.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")


def main() -> int:
    text = PO.read_text().replace('"Language: \\n"', '"Language: de\\n"')
    missing: list[str] = []

    def fill(match: re.Match[str]) -> str:
        msgid = _unquote(match.group(2))
        if not msgid:
            return match.group(0)
        german = GERMAN.get(msgid)
        if german is None:
            missing.append(msgid)
            return match.group(0)
        return match.group(1) + "msgstr " + _quote(german) + "\n"

    entry = re.compile(r'^((?:#.*\n)*msgid ((?:".*"\n)+))msgstr (?:".*"\n?)+', re.M)
    text = entry.sub(fill, text)
    text = re.sub(r"^#, fuzzy\n", "", text, flags=re.M)
    PO.write_text(text)
    for msgid in missing:
        print("untranslated:", msgid, file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
