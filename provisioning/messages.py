"""Texts of the station's screens and errors, in French, Dutch and English.

The language comes from --lang or IKKI_STATION_LANG (fr, nl, en; English by default).
"""

from __future__ import annotations

import os

LANGUAGES = ("fr", "nl", "en")

# code: (English, French, Dutch)
MESSAGES: dict[str, tuple[str, str, str]] = {
    # Errors
    "no_board": (
        "No board found. Plug a sticker into a USB port of the station, or give its port with --port.",
        "Aucune carte trouvée. Branchez un autocollant sur un port USB du poste, ou indiquez son port avec --port.",
        "Geen bord gevonden. Steek een sticker in een USB-poort van het station, of geef de poort op met --port.",
    ),
    "port_missing": (
        "Port {port} does not exist. Check the cable, or list the boards with `ikki station list`.",
        "Le port {port} n'existe pas. Vérifiez le câble, ou affichez les cartes avec `ikki station list`.",
        "Poort {port} bestaat niet. Controleer de kabel, of toon de borden met `ikki station list`.",
    ),
    "no_checksum": (
        "No checksum for {image}: give --sha256 or put the manifest {manifest} next to the image.",
        "Pas de somme de contrôle pour {image} : indiquez --sha256 ou placez le manifeste {manifest} à côté de l'image.",
        "Geen controlesom voor {image}: geef --sha256 op of zet het manifest {manifest} naast het image.",
    ),
    "image_missing": (
        "The MicroPython image {image} does not exist. Check the path given with --image.",
        "L'image MicroPython {image} n'existe pas. Vérifiez le chemin donné avec --image.",
        "Het MicroPython-image {image} bestaat niet. Controleer het pad bij --image.",
    ),
    "checksum_mismatch": (
        ("The image {image} is damaged or not the expected one: SHA-256 {actual}, expected {expected}. "
         "Copy the image again from the release; nothing was written."),
        ("L'image {image} est abîmée ou n'est pas celle attendue : SHA-256 {actual}, attendu {expected}. "
         "Recopiez l'image depuis la version publiée ; rien n'a été écrit."),
        ("Het image {image} is beschadigd of niet het verwachte: SHA-256 {actual}, verwacht {expected}. "
         "Kopieer het image opnieuw van de release; er is niets geschreven."),
    ),
    "image_not_esp": (
        "{image} is not an ESP firmware image (its first byte is not 0xE9). Use the MicroPython ESP32-S3 release file.",
        "{image} n'est pas une image de firmware ESP (son premier octet n'est pas 0xE9). Utilisez le fichier MicroPython ESP32-S3 publié.",
        "{image} is geen ESP-firmware-image (de eerste byte is niet 0xE9). Gebruik het MicroPython-bestand voor de ESP32-S3.",
    ),
    "image_wrong_chip": (
        "{image} is built for another chip (chip id {chip_id}, ESP32-S3 is 9). Use the ESP32-S3 image.",
        "{image} est compilée pour une autre puce (identifiant {chip_id}, l'ESP32-S3 est 9). Utilisez l'image ESP32-S3.",
        "{image} is gebouwd voor een andere chip (chip-id {chip_id}, de ESP32-S3 is 9). Gebruik het ESP32-S3-image.",
    ),
    "wrong_chip": (
        "The board on {port} has an {chip} chip, not an ESP32-S3. Put it in the reject box.",
        "La carte sur {port} porte une puce {chip}, pas une ESP32-S3. Mettez-la dans le bac des rebuts.",
        "Het bord op {port} heeft een {chip}-chip, geen ESP32-S3. Leg het in de afvalbak.",
    ),
    "chip_silent": (
        "The board on {port} does not answer in download mode. Hold BOOT, press RESET, release BOOT, then run the command again.",
        "La carte sur {port} ne répond pas en mode téléchargement. Maintenez BOOT, appuyez sur RESET, relâchez BOOT, puis relancez la commande.",
        "Het bord op {port} antwoordt niet in downloadmodus. Houd BOOT ingedrukt, druk op RESET, laat BOOT los en start de opdracht opnieuw.",
    ),
    "flash_failed": (
        ("Writing the flash of the board on {port} failed ({detail}). Reseat the board and run the command again; "
         "if it fails twice, put the board in the reject box. Nothing was registered."),
        ("L'écriture de la mémoire flash de la carte sur {port} a échoué ({detail}). Remettez la carte en place et relancez la commande ; "
         "après deux échecs, mettez-la dans le bac des rebuts. Rien n'a été enregistré."),
        ("Het schrijven van het flashgeheugen van het bord op {port} is mislukt ({detail}). Plaats het bord opnieuw en start de opdracht opnieuw; "
         "mislukt het twee keer, leg het bord dan in de afvalbak. Er is niets geregistreerd."),
    ),
    "repl_silent": (
        ("The board on {port} does not answer at the MicroPython prompt ({detail}). Unplug it, plug it in again and run the command again. "
         "Nothing was registered."),
        ("La carte sur {port} ne répond pas à l'invite MicroPython ({detail}). Débranchez-la, rebranchez-la et relancez la commande. "
         "Rien n'a été enregistré."),
        ("Het bord op {port} antwoordt niet op de MicroPython-prompt ({detail}). Koppel het los, sluit het opnieuw aan en start de opdracht opnieuw. "
         "Er is niets geregistreerd."),
    ),
    "board_error": (
        "The board on {port} reported an error: {detail}. Run the command again; if it fails twice, put the board in the reject box.",
        "La carte sur {port} a signalé une erreur : {detail}. Relancez la commande ; après deux échecs, mettez la carte dans le bac des rebuts.",
        "Het bord op {port} meldde een fout: {detail}. Start de opdracht opnieuw; mislukt het twee keer, leg het bord dan in de afvalbak.",
    ),
    "backend_unreachable": (
        ("The Ikki server {url} cannot be reached ({detail}). Check the station's network and --server, then run the command again; "
         "the board keeps its identity and nothing was registered."),
        ("Le serveur Ikki {url} est injoignable ({detail}). Vérifiez le réseau du poste et --server, puis relancez la commande ; "
         "la carte garde son identité et rien n'a été enregistré."),
        ("De Ikki-server {url} is onbereikbaar ({detail}). Controleer het netwerk van het station en --server en start de opdracht opnieuw; "
         "het bord houdt zijn identiteit en er is niets geregistreerd."),
    ),
    "backend_token": (
        "The Ikki server rejected the factory token. Set IKKI_FACTORY_TOKEN on the station to the token of this server.",
        "Le serveur Ikki a refusé le jeton d'usine. Donnez à IKKI_FACTORY_TOKEN sur le poste le jeton de ce serveur.",
        "De Ikki-server weigerde het fabriekstoken. Zet IKKI_FACTORY_TOKEN op het station op het token van deze server.",
    ),
    "backend_rejected": (
        "The Ikki server rejected device {device_id}: {detail}",
        "Le serveur Ikki a refusé l'appareil {device_id} : {detail}",
        "De Ikki-server weigerde toestel {device_id}: {detail}",
    ),
    "duplicate_device": (
        ("The device id {device_id} is already registered with another key. Do not label this board; "
         "give it a new identity with `ikki station provision --new-identity` or ask the lead engineer."),
        ("L'identifiant {device_id} est déjà enregistré avec une autre clé. N'étiquetez pas cette carte ; "
         "donnez-lui une nouvelle identité avec `ikki station provision --new-identity` ou demandez à l'ingénieur responsable."),
        ("Het toestel-id {device_id} is al geregistreerd met een andere sleutel. Label dit bord niet; "
         "geef het een nieuwe identiteit met `ikki station provision --new-identity` of vraag het de hoofdingenieur."),
    ),
    "not_provisioned": (
        "The board on {port} has no identity yet. Provision it first with `ikki station provision`.",
        "La carte sur {port} n'a pas encore d'identité. Provisionnez-la d'abord avec `ikki station provision`.",
        "Het bord op {port} heeft nog geen identiteit. Provisioneer het eerst met `ikki station provision`.",
    ),
    "compile_failed": (
        "mpy-cross could not compile {module}: {detail}",
        "mpy-cross n'a pas pu compiler {module} : {detail}",
        "mpy-cross kon {module} niet compileren: {detail}",
    ),
    "copy_failed": (
        "Copying to the board on {port} with mpremote failed: {detail}",
        "La copie vers la carte sur {port} avec mpremote a échoué : {detail}",
        "Kopiëren naar het bord op {port} met mpremote is mislukt: {detail}",
    ),
    "rejected": (
        "{count} board(s) failed; see the report {report}. Put them in the reject box without a label.",
        "{count} carte(s) en échec ; voir le rapport {report}. Mettez-les dans le bac des rebuts, sans étiquette.",
        "{count} bord(en) mislukt; zie het rapport {report}. Leg ze zonder label in de afvalbak.",
    ),
    # Screens
    "col_port": ("Port", "Port", "Poort"),
    "col_device": ("Device", "Appareil", "Toestel"),
    "col_step": ("Step", "Étape", "Stap"),
    "col_result": ("Result", "Résultat", "Resultaat"),
    "col_time": ("Time (s)", "Durée (s)", "Duur (s)"),
    "col_chip": ("Chip", "Puce", "Chip"),
    "col_description": ("Description", "Description", "Beschrijving"),
    "step_waiting": ("waiting", "en attente", "wacht"),
    "step_identity": ("reading identity", "lecture de l'identité", "identiteit lezen"),
    "step_flash": ("flashing", "écriture flash", "flashen"),
    "step_self_test": ("self-test", "autotest", "zelftest"),
    "step_register": ("registering", "enregistrement", "registreren"),
    "step_label": ("label", "étiquette", "label"),
    "step_done": ("done", "terminé", "klaar"),
    "result_passed": ("passed", "réussi", "geslaagd"),
    "result_rejected": ("rejected", "rejeté", "afgekeurd"),
    "result_error": ("error", "erreur", "fout"),
    "identity_new": ("new identity", "nouvelle identité", "nieuwe identiteit"),
    "identity_kept": ("identity kept", "identité conservée", "identiteit behouden"),
    "identity_rotated": ("key rotated", "clé renouvelée", "sleutel vernieuwd"),
    "batch_title": ("Batch {batch}", "Lot {batch}", "Reeks {batch}"),
    "summary": (
        "Passed: {passed}, rejected: {rejected}, errors: {errors}, in {seconds:.1f} s. Report: {report}",
        "Réussies : {passed}, rejetées : {rejected}, erreurs : {errors}, en {seconds:.1f} s. Rapport : {report}",
        "Geslaagd: {passed}, afgekeurd: {rejected}, fouten: {errors}, in {seconds:.1f} s. Rapport: {report}",
    ),
    "failed_checks": ("failed: {checks}", "échec : {checks}", "mislukt: {checks}"),
    "no_ports": ("No serial port found.", "Aucun port série trouvé.", "Geen seriële poort gevonden."),
    "operator_dark": (
        "Cover the light sensor of the board on {port}, then press Enter.",
        "Couvrez le capteur de lumière de la carte sur {port}, puis appuyez sur Entrée.",
        "Bedek de lichtsensor van het bord op {port} en druk op Enter.",
    ),
    "operator_light": (
        "Uncover the light sensor of the board on {port} under the lamp, then press Enter.",
        "Découvrez le capteur de lumière de la carte sur {port} sous la lampe, puis appuyez sur Entrée.",
        "Maak de lichtsensor van het bord op {port} vrij onder de lamp en druk op Enter.",
    ),
    "operator_sound": (
        "Did the board on {port} just make a crying sound?",
        "La carte sur {port} vient-elle d'émettre un pleur ?",
        "Maakte het bord op {port} net een huilgeluid?",
    ),
    "rotated": (
        "Device {device_id}: new key written on the board and registered with the server.",
        "Appareil {device_id} : nouvelle clé écrite sur la carte et enregistrée sur le serveur.",
        "Toestel {device_id}: nieuwe sleutel op het bord geschreven en bij de server geregistreerd.",
    ),
    "copied": (
        "Copied {count} files to the board on {port} with mpremote.",
        "{count} fichiers copiés vers la carte sur {port} avec mpremote.",
        "{count} bestanden gekopieerd naar het bord op {port} met mpremote.",
    ),
    "label_written": ("Label: {pdf} and {png}", "Étiquette : {pdf} et {png}", "Label: {pdf} en {png}"),
}


def language(requested: str | None = None) -> str:
    chosen = (requested or os.environ.get("IKKI_STATION_LANG") or "en").lower()[:2]
    return chosen if chosen in LANGUAGES else "en"


def text(code: str, lang: str | None = None, **fields: object) -> str:
    english, french, dutch = MESSAGES[code]
    template = {"en": english, "fr": french, "nl": dutch}[language(lang)]
    return template.format(**fields)
