"""black used as a library: format source with different modes."""
import black

SRC = '''
def f(a,b = 1,*args,**kwargs) :
  x = { 'a':1,'b':[1,2,3,],}
  if a and b or not x: return   (a+b)*2
  print("hello" , 'world')
class C :
   def m(self) : return  lambda y:y**2
'''

print(black.format_str(SRC, mode=black.Mode()))
print(black.format_str(SRC, mode=black.Mode(line_length=40, string_normalization=False)))
try:
    black.format_str("def broken(:\n", mode=black.Mode())
except black.InvalidInput as e:
    print("invalid:", str(e).split(":")[0])
print("unchanged:", black.format_str("x = 1\n", mode=black.Mode()) == "x = 1\n")
