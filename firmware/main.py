# Runs after every reset and every wake-up from deep sleep.
import app

app.main()
