"""The server-rendered pages (Flask-Login sessions, Flask-WTF forms), one area per module or
package, with its forms beside its views. Views parse a form, call one domain operation and
draw a page; the rules live in the domain packages. Nothing here imports the JSON API.
"""
